/**
 * Resource quantities of the `resource/*` isolators ("500m", "1G", "128Mi", "1e3"), read as
 * the reference's resource.ParseQuantity reads them, with its messages. Pure: no I/O.
 */

const SHAPE = /^([+-]?[0-9]*(?:\.[0-9]*)?)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

const DECIMAL: Readonly<Record<string, number>> = { '': 0, n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

export const QUANTITY_FORMAT_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const QUANTITY_SUFFIX_MESSAGE = "unable to parse quantity's suffix";

function multiplier(suffix: string): number | undefined {
  if (Object.hasOwn(DECIMAL, suffix)) return 10 ** DECIMAL[suffix];
  if (Object.hasOwn(BINARY, suffix)) return 2 ** BINARY[suffix];
  const exponent = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
  return exponent ? 10 ** Number(exponent[1]) : undefined;
}

/**
 * The value of a quantity (bytes for memory, cores for cpu), or the reference's message
 * when `text` is not one.
 */
export function parseQuantity(text: string): number | string {
  const m = text === '' ? null : SHAPE.exec(text);
  if (!m) return QUANTITY_FORMAT_MESSAGE;
  const factor = multiplier(m[2]);
  if (factor === undefined) return QUANTITY_SUFFIX_MESSAGE;
  const digits = /[0-9]/.test(m[1]) ? Number(m[1]) : 0;
  return digits * factor;
}
