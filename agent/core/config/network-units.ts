/**
 * systemd-networkd units in `coreos.units`: a unit named `*.network`, `*.netdev` or `*.link`
 * is a networkd configuration file, not a systemd unit. As coreos-cloudinit did, it is
 * written to /etc/systemd/network (/run/systemd/network with `runtime: true`), its drop-ins
 * to `NAME.d/`, and systemd-networkd is restarted when one of them changed; `enable`,
 * `mask` and `command` do not apply to it. Pure: no I/O.
 */

export const NETWORKD_SERVICE = 'systemd-networkd.service';

const NETWORK_UNIT = /\.(network|netdev|link)$/;

/** Whether a unit name names a networkd file. */
export function isNetworkUnit(name: string): boolean {
  return NETWORK_UNIT.test(name);
}

/** The directory (from the host root) a networkd file is written to. */
export function networkUnitDir(runtime: boolean): string {
  return runtime ? '/run/systemd/network' : '/etc/systemd/network';
}

/** The path of a networkd unit file, or of one of its drop-ins. */
export function networkUnitPath(name: string, runtime: boolean, dropIn?: string): string {
  const file = `${networkUnitDir(runtime)}/${name}`;
  return dropIn === undefined ? file : `${file}.d/${dropIn}`;
}
