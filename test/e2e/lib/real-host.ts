/**
 * A real host for the end-to-end scenario: the Debian root of scripts/host-image booted by
 * `systemd-nspawn --boot` as a unit of a sandbox manager (scripts/sandbox), so systemd is
 * PID 1 inside, the agent is on the system bus and the D-Bus policy is enforced.
 * `systemctl reboot` inside makes nspawn exit 133 and the unit starts it again: a real
 * reboot on the same root (its changes are kept). Commands run inside through `nsenter -t <PID 1> -a`.
 * Everything started is stopped by PID (the unit, then the sandbox) and the root unmounted.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../../lib/repo.js';

const run = promisify(execFile);

/** Where the GPT disk image is bound inside the host (a file standing for the boot disk). */
export const DISK_INSIDE = '/run/e2e/disk.img';
/** The unprivileged user that scripts/host-image creates. */
export const E2E_USER = 'e2e';
const UNIT = 'e2e-host.service';
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RealHostOptions {
  /** Work directory: the root overlay, the sandbox, the console log. Must exist. */
  dir: string;
  /** A disk image on this machine, bound at DISK_INSIDE. */
  disk?: string;
  /** More systemd-nspawn arguments (binds, settings) for every boot. */
  nspawnArgs?: string[];
  /**
   * Commands run before each boot, as ExecStartPre= lines (e.g. a bootloader that picks
   * the slot from the GPT attributes and writes the command line bound into the host).
   */
  beforeBoot?: string[];
}

export interface ExecOptions {
  /** Run as this user (runuser -u) instead of root. */
  user?: string;
  /** Do not throw when the command exits non-zero. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface HasAfter {
  after(fn: () => unknown): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The host's unit in the sandbox manager. Output goes to a file: the sandbox has no journal. */
function hostUnit(options: RealHostOptions, root: string, console: string): string {
  const args = [
    '--quiet', '--boot', '--keep-unit', '--register=no', `--directory=${root}`, '--machine=e2e-host',
    ...(options.disk ? [`--bind=${options.disk}:${DISK_INSIDE}`] : []),
    ...(options.nspawnArgs ?? []),
  ];
  return `[Unit]
Description=the real host of the end-to-end scenario

[Service]
${(options.beforeBoot ?? []).map((c) => `ExecStartPre=${c}\n`).join('')}ExecStart=/usr/bin/systemd-nspawn ${args.join(' ')}
Delegate=yes
KillMode=mixed
StandardOutput=append:${console}
StandardError=append:${console}
# systemctl reboot inside: nspawn exits 133 and is started again on the same root.
SuccessExitStatus=133
RestartForceExitStatus=133
`;
}

export class RealHost {
  private readonly env: NodeJS.ProcessEnv;
  private readonly console: string;
  /** Milliseconds from starting the host unit to `running`, of the first boot. */
  bootMs = 0;

  private constructor(readonly dir: string, env: NodeJS.ProcessEnv) {
    this.env = env;
    this.console = join(dir, 'console.log');
  }

  /** The host's root on this machine (an overlay mount; writes show inside at once). */
  get root(): string {
    return join(this.dir, 'root');
  }

  /**
   * Mount a fresh root (scripts/host-image), start the sandbox manager and the host unit;
   * resolves when the host's systemd says `running`. Torn down after `t`.
   */
  static async boot(t: HasAfter, options: RealHostOptions): Promise<RealHost> {
    const { dir } = options;
    const image = join(REPO, 'scripts/host-image');
    const sandbox = join(REPO, 'scripts/sandbox');
    // The root is mounted before the sandbox starts: its manager lives in a private mount
    // namespace copied at start, which must already hold the mount.
    t.after(() => run(image, ['umount', dir]));
    await run(image, ['mount', dir], { maxBuffer: 1 << 24 });
    t.after(() => run(sandbox, ['down', join(dir, 'sandbox')]));
    const { stdout } = await run(sandbox, ['up', join(dir, 'sandbox')]);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const m of stdout.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
    const host = new RealHost(dir, env);
    const unitFile = join(env.XDG_CONFIG_HOME!, 'systemd/user', UNIT);
    await mkdir(dirname(unitFile), { recursive: true });
    await writeFile(unitFile, hostUnit(options, host.root, host.console));
    t.after(() => host.systemctl('stop', UNIT).catch(() => undefined));
    await host.systemctl('daemon-reload');
    const start = performance.now();
    await host.systemctl('start', UNIT);
    await host.waitRunning();
    host.bootMs = performance.now() - start;
    return host;
  }

  /** systemctl of the sandbox manager (the machine's side of the host). */
  async systemctl(...args: string[]): Promise<string> {
    return (await run('systemctl', ['--user', ...args], { env: this.env })).stdout;
  }

  /** A property of the host's unit in the sandbox manager (MainPID, NRestarts…). */
  async unitProperty(name: string): Promise<string> {
    return (await this.systemctl('show', '-p', name, '--value', UNIT)).trim();
  }

  /** PID (on this machine) of the host's PID 1, the child of systemd-nspawn. */
  async leader(): Promise<number> {
    const nspawn = Number(await this.unitProperty('MainPID'));
    if (!nspawn) throw new Error(`${UNIT} has no main process`);
    const children = await readFile(`/proc/${nspawn}/task/${nspawn}/children`, 'utf8').catch(() => '');
    for (const pid of children.trim().split(/\s+/).filter(Boolean)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (/^NSpid:\s+\d+\s+1$/m.test(status)) return Number(pid);
    }
    throw new Error(`systemd-nspawn (PID ${nspawn}) has no PID 1 yet`);
  }

  /** Run a command inside the host as root (or `user`), in a clean environment. */
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const leader = await this.leader();
    const inner = opts.user ? ['runuser', '-u', opts.user, '--', ...argv] : argv;
    const result = await new Promise<ExecResult>((resolve, reject) => {
      const child = spawn('nsenter', ['-t', String(leader), '-a', 'env', '-i', `PATH=${PATH_INSIDE}`, 'LANG=C.UTF-8', ...inner], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
    if (result.code !== 0 && !opts.allowFailure) {
      throw new Error(`inside the host, \`${inner.join(' ')}\` exited ${result.code}:\n${result.stdout}${result.stderr}`);
    }
    return result;
  }

  /** Write a file inside the host (through the overlay; the host sees it at once). */
  async writeFile(path: string, content: string): Promise<void> {
    const file = join(this.root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  /** Copy a file of this machine into the host (binary-safe; the host sees it at once). */
  async copyIn(source: string, path: string): Promise<void> {
    const file = join(this.root, path);
    await mkdir(dirname(file), { recursive: true });
    await copyFile(source, file);
  }

  /**
   * Wait until the host's systemd says `running` (or fail with its state and the console).
   * With `expect` `degraded`, until it says so instead (a boot with a failed unit).
   */
  async waitRunning(timeoutMs = 60_000, expect: 'running' | 'degraded' = 'running'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let state = 'no PID 1';
    for (;;) {
      try {
        state = (await this.exec(['systemctl', 'is-system-running'], { allowFailure: true, timeoutMs: 5000 })).stdout.trim();
        if (state === expect) return;
        if (state === 'degraded') {
          const failed = await this.exec(['systemctl', '--failed', '--no-legend', '--plain'], { allowFailure: true });
          throw new Error(`the host booted degraded; failed units:\n${failed.stdout}`);
        }
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('the host booted degraded')) throw e;
        state = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() > deadline) {
        throw new Error(`the host is not running after ${timeoutMs} ms (last: ${state}); console:\n${await this.consoleTail()}`);
      }
      await sleep(50);
    }
  }

  /**
   * Reboot for real: `systemctl reboot` inside, nspawn exits 133, the unit starts it again;
   * resolves when the new boot is `running` (or `degraded`, when expected: see waitRunning).
   */
  async reboot(timeoutMs = 60_000, expect: 'running' | 'degraded' = 'running'): Promise<{ restarts: number; ms: number }> {
    const start = performance.now();
    const before = Number(await this.unitProperty('NRestarts'));
    const oldLeader = await this.leader();
    await this.exec(['systemctl', 'reboot']);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const restarts = Number(await this.unitProperty('NRestarts'));
      const leader = await this.leader().catch(() => 0);
      if (restarts > before && leader && leader !== oldLeader) break;
      if (Date.now() > deadline) throw new Error(`the host did not come back from reboot; console:\n${await this.consoleTail()}`);
      await sleep(50);
    }
    await this.waitRunning(Math.max(1000, deadline - Date.now()), expect);
    return { restarts: Number(await this.unitProperty('NRestarts')), ms: performance.now() - start };
  }

  /** The host's journal of `unit` (or of the boot), for failure messages. */
  async journal(unit?: string, lines = 40): Promise<string> {
    const args = ['journalctl', '--no-pager', '-b', '-n', String(lines), ...(unit ? ['-u', unit] : [])];
    const r = await this.exec(args, { allowFailure: true, timeoutMs: 5000 });
    return r.stdout + r.stderr;
  }

  /** The last lines the host printed (its console), for failure messages. */
  async consoleTail(lines = 40): Promise<string> {
    const text = await readFile(this.console, 'utf8').catch(() => '');
    return text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').slice(-lines).join('\n');
  }
}
