import { test } from 'node:test';
import assert from 'node:assert/strict';
import cron from 'node-cron';
import { cronExpressionProblem } from '../../../../agent/core/schedule/cron.js';

const ACCEPTED = [
  '0 */6 * * *',
  '* * * * *',
  '*/10 * * * * *',
  '30 4 * * 0',
  '0 0 * * 7',
  '0 0 1,15 * *',
  '0 9-17/2 * * mon-fri',
  '0 0 * JAN-Mar Sun',
  '0 0 1 january *',
  '0 0 ? * *',
  '10-5 * * * *',
  '0 0 30 1,2 *',
  '0 0 29 2 *',
  '  0   3  *  *  *  ',
  '@hourly',
  '@Daily',
  '@weekly',
  '@monthly',
  '@yearly',
  '@annually',
  '@midnight',
];

const REJECTED: Array<[string, string]> = [
  ['', 'expected 5 or 6 fields but got 0'],
  ['* * * *', 'expected 5 or 6 fields but got 4'],
  ['* * * * * * *', 'expected 5 or 6 fields but got 7'],
  ['60 * * * *', '"60" is not valid for the minute (0-59)'],
  ['60 * * * * *', '"60" is not valid for the second (0-59)'],
  ['* 24 * * *', '"24" is not valid for the hour (0-23)'],
  ['* * 0 * *', '"0" is not valid for the day of month (1-31)'],
  ['* * 32 * *', '"32" is not valid for the day of month (1-31)'],
  ['* * * 13 *', '"13" is not valid for the month (1-12)'],
  ['* * * * 8', '"8" is not valid for the day of week (0-7)'],
  ['1-70 * * * *', '"1-70" is not valid for the minute (0-59)'],
  ['*/0 * * * *', 'a step must be at least 1'],
  ['5/10 * * * *', 'a step needs "*" or a range "N-M"'],
  ['*-5 * * * *', '"*-5" is not valid for the minute'],
  ['a * * * *', '"a" is not valid for the minute'],
  ['* * * * funday', '"funday" is not valid for the day of week'],
  ['* * * ? *', '"?" is not valid for the month'],
  ['0 0 L * *', '"L" is not valid for the day of month'],
  ['0 0 15W * *', '"15W" is not valid for the day of month'],
  ['0 0 * * 1#2', '"1#2" is not valid for the day of week'],
  ['0 0 31 2 *', 'day of month "31" never occurs in month "2"'],
  ['0 0 30,31 feb *', 'day of month "30,31" never occurs in month "feb"'],
  ['1,,2 * * * *', '"" is not valid for the minute'],
  ['@never', 'unknown nickname "@never"'],
];

test('accepted cron expressions', () => {
  for (const expr of ACCEPTED) assert.equal(cronExpressionProblem(expr), undefined, expr);
});

test('whatever we accept, node-cron (which runs it) accepts too', () => {
  for (const expr of ACCEPTED) assert.equal(cron.validate(expr), true, expr);
});

test('rejected cron expressions say why and name the accepted forms', () => {
  for (const [expr, why] of REJECTED) {
    const problem = cronExpressionProblem(expr);
    assert.ok(problem, `accepted ${JSON.stringify(expr)}`);
    assert.ok(problem.includes(why), `${expr}: ${problem}`);
    assert.ok(problem.startsWith(`invalid cron expression "${expr}": `), problem);
    assert.ok(problem.includes('accepted forms: "minute hour day-of-month month day-of-week"'), problem);
    assert.ok(problem.includes('@daily'), problem);
  }
});
