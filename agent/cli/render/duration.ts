/**
 * Durations for people: "3d 4h", "5m 3s", "42s".
 */

export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: Array<[number, string]> = [[Math.floor(s / 86400), 'd'], [Math.floor((s % 86400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'min'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0s';
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
}
