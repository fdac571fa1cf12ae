/**
 * The inhibitor rule for reboots, as logind lists inhibitors (ListInhibitors: what, who,
 * why, mode, uid, pid). A reboot is postponed while another program holds a `shutdown`
 * inhibitor in `block` or `delay` mode; the agent never overrides one (root could). Pure.
 */

export interface Inhibitor {
  /** Colon-separated list: `shutdown`, `sleep`, `idle`, `handle-power-key`… */
  what: string;
  who: string;
  why: string;
  mode: string;
  uid: number;
  pid: number;
}

/** The inhibitors that postpone a reboot; those of `selfPid` (the agent) do not count. */
export function blockingInhibitors(list: readonly Inhibitor[], selfPid: number): Inhibitor[] {
  return list.filter((i) => i.pid !== selfPid &&
    i.what.split(':').includes('shutdown') && (i.mode === 'block' || i.mode === 'delay'));
}

/** One sentence for status text: who holds them and why. */
export function describeInhibitors(list: readonly Inhibitor[]): string {
  const each = list.map((i) => `${i.who || 'unknown'} (pid ${i.pid}${i.why ? `: ${i.why}` : ''}, ${i.mode})`);
  return `a shutdown inhibitor is held by ${each.join(', ')}`;
}
