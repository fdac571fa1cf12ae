/**
 * The built-in `default` network, done by the container's unit itself with no helper
 * process: a macvlan interface per container on a parent device of the network's own, the
 * host's gateway interface a macvlan on the same parent, addresses leased from files,
 * masquerade, port forwards and isolation as iptables rules of the network. Everything a
 * start waits for is shell builtins plus one `ip -batch` run inside the container's
 * namespace (the CNI plugins this replaces for `default` cost ~150 ms of process starts
 * and iptables runs per container; declared networks still run them, ./conflist.ts).
 *
 * The unit runs three scripts (all arguments positional, never script text):
 * - `prepare` (the host's namespace; then it execs the command after its arguments, if
 *   any: ExecStart's nspawn chain; a pod runs it as an ExecStartPre of its own): reclaims
 *   what a run whose ExecStopPost never ran left (a killed manager); brings the network
 *   up under a lock unless it is up with this subnet (the gateway interface a macvlan of
 *   the parent, sysfs `lower_<parent>`, and the subnet recorded next to the leases: once
 *   per boot, or when the subnet changed; an interface of that name that is something
 *   else is an error naming it) (the parent device, `dummy` or else a port-less
 *   `bridge`; the gateway macvlan with the subnet's first address; `ip_forward`;
 *   `route_localnet` on the gateway interface; the chains `HA-POST-<if>` (nat: masquerade
 *   out of the subnet, and of forwarded connections from loopback or the subnet itself),
 *   `HA-PORTS-<if>` (nat: one DNAT rule per forwarded port, jumped to for the host's local
 *   addresses from PREROUTING and OUTPUT) and `HA-FWD-<if>` (filter: the subnet goes out,
 *   replies and forwarded ports come in, nothing new enters from another interface));
 *   takes the first free address after the last one handed out (a lease is a file created
 *   with O_EXCL, as host-local's); adds the container's DNAT rules; writes its
 *   resolv.conf, hosts, address and a CNI-style result (read by `ps`/`status`); creates
 *   the namespace file.
 * - `up` (after `unshare --net=FILE` made the namespace: the nspawn launch script, or the
 *   pod's ExecStartPre): lets the container's root bind ports below 1024 in its own
 *   namespace, and creates `eth0` there as a macvlan of the host's parent device
 *   (`link-netns` the manager's namespace), with its address and default route.
 * - `down` (ExecStopPost, every end of the unit): removes the container's DNAT rules (as
 *   written at prepare), unmounts the namespace file (every stacked mount, lazily: a unit
 *   joining the namespace by its path may hold it open), which frees `eth0`, and removes
 *   its lease and files. Idempotent.
 * Pure: no I/O.
 */
import { NETWORK_NAME } from './conflist.js';
import { containerFilesPrefix } from './names.js';
import { parseCidr } from './subnet.js';
import type { MacvlanNetwork } from './types.js';

/** The parent device of a network's gateway interface `iface` (at most 13 characters). */
function parentDevice(iface: string): string {
  return `${iface}-p`;
}

const IFACE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/;

/** Problems of a macvlan network's settings (they reach the unit's scripts as words). */
export function macvlanProblems(n: MacvlanNetwork): string[] {
  const problems: string[] = [];
  if (!IFACE.test(n.iface)) problems.push(`the network's host interface "${n.iface}" must be 1-13 letters, digits, "_", "." or "-" (its parent device is "<name>-p")`);
  const cidr = parseCidr(n.subnet);
  if (cidr === undefined || cidr.prefix < 8 || cidr.prefix > 30) {
    problems.push(`the network's subnet "${n.subnet}" must be an IPv4 subnet from /8 to /30, such as 172.16.28.0/24`);
  }
  if (!NETWORK_NAME.test(n.name)) problems.push(`the network's name "${n.name}" must be lower-case letters, digits, ".", "_" or "-"`);
  return problems;
}

/** What the unit's scripts need of one container on a macvlan network. */
export interface MacvlanAttachment {
  container: string;
  network: MacvlanNetwork;
  /** The namespace file, e.g. `/run/host-agent/netns/<name>`. */
  netns: string;
  /** `/run/host-agent/network`: leases (`ipam/<network>/`), results, the container's files. */
  runDir: string;
  dns: string[];
  ports: Array<{ hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }>;
}

/** Shell text as written (raw), `@{` standing for `${`, which a template literal cannot hold. */
function sh(strings: TemplateStringsArray): string {
  return strings.raw.join('').replace(/@\{/g, '${');
}

/** The host's side: `prepare` and `down` take the same arguments. */
const HOST_SCRIPT = sh`set -e
cmd=$1 n=$2 g=$3 subnet=$4 ns=$5 leases=$6 result=$7 files=$8 dns=$9 ports=@{10}
p=$g-p
to_int() { o1=@{1%%.*}; o=@{1#*.}; o2=@{o%%.*}; o=@{o#*.}; o3=@{o%%.*}; o4=@{o#*.}; r=$(( (o1 << 24) + (o2 << 16) + (o3 << 8) + o4 )); }
to_ip() { ip=$(( $1 >> 24 & 255 )).$(( $1 >> 16 & 255 )).$(( $1 >> 8 & 255 )).$(( $1 & 255 )); }
prefix=@{subnet#*/}
to_int "@{subnet%/*}"
size=$(( 1 << (32 - prefix) )); base=$(( r - r % size )); first=$(( base + 2 )); last=$(( base + size - 2 ))
to_ip $(( base + 1 )); gw=$ip
leased() { owned=; for f in "$leases"/[0-9]*; do if [ -f "$f" ] && read -r owner < "$f" && [ "$owner" = "$n" ]; then owned="$owned $f"; fi; done; }
rules() { echo '*nat'; while read -r l; do echo "$1@{l#-A }"; done < "$files.rules"; echo COMMIT; }
down() {
  if [ -s "$files.rules" ] && ! rules '-D ' | iptables-restore -w --noflush 2>/dev/null; then
    while read -r l; do iptables -w -t nat -D @{l#-A } 2>/dev/null || true; done < "$files.rules"
  fi
  while umount -l "$ns" 2>/dev/null; do :; done
  leased
  rm -f "$ns" "$result" "$files.resolv.conf" "$files.hosts" "$files.eth0" "$files.rules" $owned
}
jump() { iptables -w -t "$1" -C "$2" $3 -j "$4" 2>/dev/null || iptables -w -t "$1" -I "$2" 1 $3 -j "$4"; }
ready() { [ -e "/sys/class/net/$g/lower_$p" ] && [ -f "$leases.subnet" ] && read -r had < "$leases.subnet" && [ "$had" = "$subnet" ]; }
bring_up() {
  if [ -e "/sys/class/net/$g" ] && [ ! -e "/sys/class/net/$g/lower_$p" ]; then
    echo "host-agent: the interface $g exists but is not the default network's (a macvlan of $p): remove it (ip link del $g) or give the network another interface name (agentd's HOST_AGENT_BRIDGE)" >&2
    return 1
  fi
  if [ ! -e "/sys/class/net/$p" ]; then ip link add "$p" type dummy 2>/dev/null || ip link add "$p" type bridge; fi
  ip link set "$p" up
  echo 1 > /proc/sys/net/ipv4/ip_forward
  iptables -w -t nat -N "HA-PORTS-$g" 2>/dev/null || true
  iptables -w -t nat -N "HA-POST-$g" 2>/dev/null || iptables -w -t nat -F "HA-POST-$g"
  iptables -w -t filter -N "HA-FWD-$g" 2>/dev/null || iptables -w -t filter -F "HA-FWD-$g"
  iptables-restore -w --noflush <<RULES
*nat
-A HA-POST-$g -s $subnet ! -d $subnet -j MASQUERADE
-A HA-POST-$g -o $g -s 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE
-A HA-POST-$g -o $g -s $subnet -m conntrack --ctstate DNAT -j MASQUERADE
COMMIT
*filter
-A HA-FWD-$g -o $g -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A HA-FWD-$g -o $g -m conntrack --ctstate DNAT -j ACCEPT
-A HA-FWD-$g -i $g -o $g -j ACCEPT
-A HA-FWD-$g -o $g -j DROP
-A HA-FWD-$g -i $g -j ACCEPT
COMMIT
RULES
  jump nat POSTROUTING "" "HA-POST-$g"
  jump nat PREROUTING "-m addrtype --dst-type LOCAL" "HA-PORTS-$g"
  jump nat OUTPUT "-m addrtype --dst-type LOCAL" "HA-PORTS-$g"
  jump filter FORWARD "" "HA-FWD-$g"
  if [ ! -e "/sys/class/net/$g" ]; then ip link add link "$p" name "$g" type macvlan mode bridge; fi
  echo 1 > "/proc/sys/net/ipv4/conf/$g/route_localnet"
  ip addr replace "$gw/$prefix" dev "$g"
  ip link set "$g" up
  echo "$subnet" > "$leases.subnet"
}
lease() {
  c=$first
  if [ -f "$leases/last_reserved_ip" ] && read -r prev < "$leases/last_reserved_ip"; then
    to_int "$prev"
    if [ "$r" -ge "$first" ] && [ "$r" -lt "$last" ]; then c=$(( r + 1 )); fi
  fi
  i=$(( last - first + 1 )); set -C
  while [ "$i" -gt 0 ]; do
    to_ip "$c"
    if printf '%s\neth0\n' "$n" 2>/dev/null > "$leases/$ip"; then set +C; echo "$ip" > "$leases/last_reserved_ip"; return 0; fi
    c=$(( c + 1 )); i=$(( i - 1 ))
    if [ "$c" -gt "$last" ]; then c=$first; fi
  done
  set +C
  echo "host-agent: no free address left in $subnet for container $n: every one is leased (files under $leases)" >&2
  return 1
}
resolv() {
  echo '# Written by host-agent for this container.'
  if [ -n "$dns" ]; then
    for s in $dns; do echo "nameserver $s"; done
  elif [ -r /etc/resolv.conf ]; then
    while read -r k v rest; do
      if [ "$k" = nameserver ]; then case $v in 127.*|::1) ;; *) echo "nameserver $v";; esac; fi
    done < /etc/resolv.conf
    while read -r k rest; do case $k in search|domain|options) echo "$k $rest";; esac; done < /etc/resolv.conf
  fi
}
prepare() {
  leased
  if [ -e "$result" ] || [ -e "$files.eth0" ] || [ -n "$owned" ]; then down; fi
  if ! { [ -d "$leases" ] && [ -d "@{files%/*}" ] && [ -d "@{result%/*}" ] && [ -d "@{ns%/*}" ]; }; then
    mkdir -p "$leases" "@{files%/*}" "@{result%/*}" "@{ns%/*}"
  fi
  if ! ready; then
    exec 9> "$leases.lock"; flock 9
    if ! ready; then bring_up; fi
    exec 9>&-
  fi
  lease
  if [ -n "$ports" ]; then
    for m in $ports; do
      proto=@{m%%:*}; t=@{m#*:}
      echo "-A HA-PORTS-$g -p $proto -m $proto --dport @{t%%:*} -m comment --comment host-agent:$n -j DNAT --to-destination $ip:@{t#*:}"
    done > "$files.rules"
    rules '-A ' | iptables-restore -w --noflush
  fi
  resolv > "$files.resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' "$ip" "$n" > "$files.hosts"
  echo "$ip/$prefix $gw" > "$files.eth0"
  printf '{"kind":"hostAgentMacvlanV1","result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"%s"}],"ips":[{"address":"%s/%s","gateway":"%s","interface":0}]}}\n' "$ns" "$ip" "$prefix" "$gw" > "$result"
  : > "$ns"
}
case $cmd in
  prepare) prepare; shift 10; if [ $# -gt 0 ]; then exec "$@"; fi;;
  down) down;;
esac`;

/**
 * In the container's new namespace (`$PPID`, the manager, is in the host's): `net_up
 * PARENT FILES` reads the address the host side leased and creates `eth0`.
 */
export const MACVLAN_UP_FUNCTION = sh`net_up() {
  echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start
  read -r idx < "/sys/class/net/$1/ifindex"
  read -r addr gw < "$2.eth0"
  ip -batch - <<EOF || { echo "host-agent: cannot create eth0 on $1 in the container's network namespace" >&2; return 1; }
link set lo up
link add eth0 link-netns /proc/$PPID/ns/net link if$idx type macvlan mode bridge
addr add $addr dev eth0
link set eth0 up
route add default via $gw
EOF
}`;

function hostArgs(command: 'prepare' | 'down', a: MacvlanAttachment): string[] {
  return [
    '/bin/sh', '-c', HOST_SCRIPT, `agentd-net-${command}`, command, a.container, a.network.iface, a.network.subnet, a.netns,
    `${a.runDir}/ipam/${a.network.name}`, `${a.runDir}/results/${a.network.name}-${a.container}-eth0`,
    containerFilesPrefix(a.runDir, a.container), a.dns.join(' '),
    a.ports.map((p) => `${p.protocol}:${p.hostPort}:${p.containerPort}`).join(' '),
  ];
}

/** `[prepare, down]` argv for a container on a macvlan network; prepare execs what follows it. */
export function macvlanCommands(a: MacvlanAttachment): [string[], string[]] {
  return [hostArgs('prepare', a), hostArgs('down', a)];
}

/** The arguments of `net_up` for this container. */
export function macvlanUpArgs(a: MacvlanAttachment): string[] {
  return [parentDevice(a.network.iface), containerFilesPrefix(a.runDir, a.container)];
}
