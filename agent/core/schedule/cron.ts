/**
 * Validation of cron expressions (`host-agent.images.check` and other check schedules).
 *
 * The expressions are run by node-cron in a host adapter; this module only says whether an
 * expression is one we accept, with a message naming the accepted forms. What we accept is a
 * subset of what node-cron accepts (its L, W and # extensions are refused): 5 fields
 * (minute hour day-of-month month day-of-week) or 6 (a leading second), or a nickname.
 * Pure: no I/O.
 */

interface Field {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  /** Names accepted for the values min, min+1, … (three-letter and full forms). */
  readonly names?: readonly string[];
  /** Whether `?` ("no specific value") is accepted. */
  readonly question?: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTHS_FULL = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august',
  'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEKDAYS_FULL = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const SECOND: Field = { label: 'second', min: 0, max: 59 };
const FIVE_FIELDS: readonly Field[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31, question: true },
  { label: 'month', min: 1, max: 12, names: [...MONTHS, ...MONTHS_FULL] },
  // 7 is Sunday too, as in node-cron.
  { label: 'day of week', min: 0, max: 7, names: [...WEEKDAYS, ...WEEKDAYS_FULL], question: true },
];

const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** The accepted forms, appended to every problem so the person can fix the expression. */
export const CRON_ACCEPTED_FORMS =
  'accepted forms: "minute hour day-of-month month day-of-week" or "second minute hour ' +
  'day-of-month month day-of-week", each field "*", "N", "N-M", "*/S", "N-M/S" or a comma ' +
  'list of these (months jan-dec and days sun-sat by name too, "?" for either day field), ' +
  `or one of ${NICKNAMES.join(', ')}; e.g. "0 */6 * * *"`;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of one number or name in `field`, or undefined when it is neither. */
function valueOf(token: string, field: Field): number | undefined {
  if (/^\d{1,2}$/.test(token)) return Number(token);
  const index = field.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  // `names` holds the short forms, then the full forms, in the same order.
  return field.min + (index % (field.names!.length / 2));
}

/** Why one comma-separated item of `field` is wrong, or undefined; collects plain values. */
function itemProblem(item: string, field: Field, values: number[]): string | undefined {
  const bad = `"${item}" is not valid for the ${field.label} (${field.min}-${field.max})`;
  const match = /^([^-/]+)(?:-([^-/]+))?(?:\/(\d+))?$/.exec(item);
  if (!match) return bad;
  const [, first, last, step] = match;
  if (step !== undefined && Number(step) < 1) return `${bad}: a step must be at least 1`;
  if (first === '*') return last === undefined ? undefined : bad;
  const from = valueOf(first!, field);
  const to = last === undefined ? from : valueOf(last, field);
  if (from === undefined || to === undefined) return bad;
  if (from < field.min || from > field.max || to < field.min || to > field.max) return bad;
  if (last === undefined && step !== undefined) return `${bad}: a step needs "*" or a range "N-M"`;
  if (last === undefined) values.push(from);
  return undefined;
}

/** Why one field is wrong, or undefined. `values` receives its plain numbers (not ranges). */
function fieldProblem(text: string, field: Field, values: number[]): string | undefined {
  if (text === '?' && field.question) return undefined;
  for (const item of text.split(',')) {
    const problem = itemProblem(item, field, values);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Why `expr` is not a cron expression we accept, or undefined when it is one.
 * The message names the accepted forms.
 */
export function cronExpressionProblem(expr: string): string | undefined {
  const problem = (why: string) => `invalid cron expression "${expr}": ${why}; ${CRON_ACCEPTED_FORMS}`;
  const trimmed = expr.trim();
  if (trimmed.startsWith('@')) {
    return NICKNAMES.includes(trimmed.toLowerCase()) ? undefined : problem(`unknown nickname "${trimmed}"`);
  }
  const parts = trimmed === '' ? [] : trimmed.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return problem(`expected 5 or 6 fields but got ${parts.length}`);
  }
  const fields = parts.length === 6 ? [SECOND, ...FIVE_FIELDS] : FIVE_FIELDS;
  const valuesPerField: number[][] = [];
  for (let i = 0; i < parts.length; i++) {
    const values: number[] = [];
    const why = fieldProblem(parts[i]!, fields[i]!, values);
    if (why) return problem(why);
    valuesPerField.push(values);
  }
  const days = parts[parts.length - 3]!;
  const months = parts[parts.length - 2]!;
  if (/^[\d,]+$/.test(days) && /^[\d,a-z]+$/i.test(months)) {
    const dayValues = valuesPerField[parts.length - 3]!;
    const monthValues = valuesPerField[parts.length - 2]!;
    if (!monthValues.some((m) => dayValues.some((d) => d <= DAYS_IN_MONTH[m - 1]!))) {
      return problem(`day of month "${days}" never occurs in month "${months}"`);
    }
  }
  return undefined;
}
