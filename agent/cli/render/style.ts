/**
 * Terminal styling: ANSI colours when allowed, plain text otherwise.
 */

const CODES = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;
export type Style = keyof typeof CODES;

export function styler(color: boolean): (style: Style, text: string) => string {
  return (style, text) => (color ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text);
}

/** The colour of a systemd ActiveState, as systemctl shows it. */
export function activeStateStyle(state: string): Style | undefined {
  if (state === 'active') return 'green';
  if (state === 'failed') return 'red';
  if (state === 'activating' || state === 'deactivating' || state === 'reloading') return 'yellow';
  return undefined;
}
