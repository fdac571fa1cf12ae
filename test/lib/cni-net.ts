/**
 * Container networks in tests: an interface name and a subnet of the test's own (never the
 * host's routes) for the built-in network, the CNI network helper run from the source tree,
 * a declared conflist on a bridge of the test's own, listings of what a network leaves on
 * the host (veths on the test's bridges, iptables rules naming a container or one of its
 * addresses, leases, netns files, cached results, the containers' files) and the removal of
 * every interface, chain and iptables rule the tests made, by name.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProcRoutes, pickSubnet } from '../../agent/core/network/subnet.js';
import type { NetworkSettings } from '../../agent/host/network/default-network.js';
import { REPO } from './repo.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

/**
 * argv of the helper: the compiled one when scripts/test built it (`HOST_AGENT_TEST_DIST`,
 * the dist directory: a container start then costs node's start, not tsx compiling the
 * helper's modules each time — seconds under load), else from the source tree (tsx as an
 * absolute URL: units run elsewhere).
 */
export const HELPER = process.env.HOST_AGENT_TEST_DIST
  ? [process.execPath, join(process.env.HOST_AGENT_TEST_DIST, 'agent/net-helper.js')]
  : [process.execPath, '--import', import.meta.resolve('tsx'), join(REPO, 'agent/net-helper.ts')];

/** A free /24 in 172.16.160-239.0: not one of the agent's defaults, not on any route. */
export function testSubnets(count: number): string[] {
  const routes = parseProcRoutes(execFileSync('cat', ['/proc/net/route'], { encoding: 'utf8' }));
  const start = 160 + randomBytes(1)[0]! % 60;
  const candidates = Array.from({ length: 80 }, (_, i) => `172.16.${160 + ((start - 160 + i) % 80)}.0/24`);
  const picked: string[] = [];
  for (const c of candidates) {
    if (picked.length === count) break;
    if (pickSubnet(routes, '', [c]) !== undefined) picked.push(c);
  }
  return picked;
}

export function gatewayOf(subnet: string): string {
  return subnet.replace(/\.0\/24$/, '.1');
}

export interface TestNetworks {
  settings: NetworkSettings;
  bridges: string[];
  subnets: string[];
  /** A conflist (JSON text, as in cloud-config) for a second network on its own bridge. */
  secondConflist: string;
  /** What networks left on the host: compare before and after. */
  leftovers(containers: string[]): Promise<string[]>;
}

/** Two bridge names and two free subnets of the test's own. */
export function testNetworkNames(): { bridges: string[]; subnets: string[] } {
  const tag = randomBytes(3).toString('hex');
  return { bridges: [`hat${tag}a`, `hat${tag}b`], subnets: testSubnets(2) };
}

export function testNetworks(t: HasAfter, runtimeDir: string, names = testNetworkNames(), helper = HELPER): TestNetworks {
  const { bridges, subnets } = names;
  const settings: NetworkSettings = {
    helper, runDir: join(runtimeDir, 'network'), netnsDir: join(runtimeDir, 'netns'),
    cniPath: ['/usr/lib/cni'], bridge: bridges[0]!, subnet: subnets[0]!,
  };
  const secondConflist = JSON.stringify({
    cniVersion: '1.0.0',
    plugins: [
      { type: 'bridge', bridge: bridges[1], isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: subnets[1] }]], dataDir: join(settings.runDir, 'ipam') } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', backend: 'iptables', ingressPolicy: 'same-bridge' },
    ],
  });
  t.after(() => removeBridges(bridges));
  return {
    settings, bridges, subnets, secondConflist,
    async leftovers(containers) {
      const out: string[] = [];
      for (const b of bridges) {
        const veths = run('ip', ['-o', 'link', 'show', 'master', b]).trim();
        if (veths) out.push(...veths.split('\n').map((l) => `veth on ${b}: ${l.split(':')[1]!.trim()}`));
      }
      // A network's own rules (the built-in network's chains, masquerade of its subnet) stay;
      // a rule naming a container or one of its addresses must not.
      const addresses = subnets.map((s) => new RegExp(`${s.replace(/0\/24$/, '').replace(/\./g, '\\.')}\\d+(/32|:\\d+)`));
      for (const table of ['nat', 'filter']) {
        for (const line of run('iptables-save', ['-t', table]).split('\n')) {
          if (addresses.some((a) => a.test(line)) || containers.some((c) => line.includes(`id: \\"${c}-`) || line.includes(`host-agent:${c}"`))) out.push(`${table}: ${line}`);
        }
      }
      const leases = await readdir(join(settings.runDir, 'ipam'), { recursive: true }).catch(() => [] as string[]);
      out.push(...leases.filter((f) => /\/\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => `lease ${f}`));
      for (const dir of [join(settings.runDir, 'results'), join(settings.runDir, 'containers'), settings.netnsDir]) {
        out.push(...(await readdir(dir).catch(() => [] as string[])).map((f) => `${dir}/${f}`));
      }
      return out;
    },
  };
}

function run(program: string, args: string[]): string {
  try {
    return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/**
 * Deletes the test's interfaces (a CNI bridge, or the built-in network's interface and its
 * parent `<name>-p`), the rules naming them (the firewall plugin's isolation rules, the
 * jumps to the built-in network's chains) and those chains (ours by name).
 */
export function removeBridges(bridges: string[]): void {
  for (const b of bridges) {
    for (const table of ['filter', 'nat']) {
      for (const rule of rulesNaming(b, table)) run('sh', ['-c', `iptables -w -t ${table} ${rule.replace(/^-A /, '-D ')}`]);
      for (const chain of ['HA-FWD', 'HA-POST', 'HA-PORTS']) {
        run('iptables', ['-w', '-t', table, '-F', `${chain}-${b}`]);
        run('iptables', ['-w', '-t', table, '-X', `${chain}-${b}`]);
      }
    }
    run('ip', ['link', 'del', b]);
    run('ip', ['link', 'del', `${b}-p`]);
  }
}

/** The iptables rules of `table` naming interface `iface` or jumping to one of its chains, as `-A …` lines. */
export function rulesNaming(iface: string, table = 'filter'): string[] {
  return execFileSync('iptables-save', ['-t', table], { encoding: 'utf8' }).split('\n')
    .filter((l) => l.startsWith('-A ') && (l.includes(` ${iface} `) || l.endsWith(`-${iface}`)) && !/^-A HA-[A-Z]+-/.test(l));
}

/** The container's address, from the result cached for DEL. */
export async function addressOf(settings: NetworkSettings, network: string, container: string): Promise<string> {
  const cached = JSON.parse(await readFile(join(settings.runDir, 'results', `${network}-${container}-eth0`), 'utf8')) as { result: { ips: Array<{ address: string }> } };
  return cached.result.ips[0]!.address.split('/')[0]!;
}
