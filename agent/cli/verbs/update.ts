/**
 * agentctl update SUBVERB: the OS update status (for people, `--json`, or
 * update_engine_client's five KEY=value lines with `--format=env`), and check, apply
 * (waits; a progress bar on a terminal from UpdateStatusChanged signals; Ctrl-C cancels
 * the update in agentd through UpdateReset), reset and rollback — each one call to agentd
 * (agent/api/agent1.ts); `update containers [--now]`: container image auto-update
 * (image-updates.ts).
 */
import { AGENT_INTERFACE, type UpdateRollbackResult, type UpdateStatusDocument } from '../../api/agent1.js';
import { AgentError, describeError } from '../../core/errors.js';
import { statusEnvLines } from '../../core/update/status.js';
import { callAgent } from '../agent-client.js';
import { onInterrupt } from '../interrupt.js';
import { humanDuration } from '../render/duration.js';
import { progressView } from '../render/progress.js';
import { styler } from '../render/style.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from '../verb.js';
import { humanSize } from './image.js';

/** Without any signal for this long, `update apply` gives up waiting. */
const APPLY_SILENCE_MS = 120_000;
/** Exit status after Ctrl-C, as a shell reports a command ended by SIGINT. */
const EXIT_INTERRUPTED = 130;

async function call(ctx: CliContext, method: 'GetUpdateStatus' | 'UpdateCheck' | 'UpdateReset'): Promise<UpdateStatusDocument> {
  const [json] = await callAgent(ctx, method);
  return JSON.parse(json as string) as UpdateStatusDocument;
}

function checked(s: UpdateStatusDocument, now: Date): string {
  if (s.lastCheckedTime === 0) return 'never';
  const at = new Date(s.lastCheckedTime * 1000);
  return `${at.toISOString()} (${humanDuration((now.getTime() - at.getTime()) / 1000)} ago)`;
}

const BOOT_TEXT: Record<UpdateStatusDocument['boot']['status'], string> = {
  pending: 'not checked yet',
  checking: 'waiting for the required units (health check)',
  'already-good': 'good',
  'marked-good': 'marked good after a healthy boot',
  'health-failed': 'NOT healthy: a reboot falls back to the other slot',
  error: 'could not be checked',
  disabled: 'not managed',
};

export function renderUpdateStatus(s: UpdateStatusDocument, color: boolean, now = new Date()): string {
  const paint = styler(color);
  const op = s.currentOperation;
  const dot = s.lastError ? paint('red', '●') : s.state === 'UPDATED_NEED_REBOOT' ? paint('yellow', '●') : paint('green', '●');
  const boot = `${BOOT_TEXT[s.boot.status]}${s.boot.detail ? ` (${s.boot.detail})` : ''}`;
  const lines = [
    `${dot} OS update: ${op}`,
    `     Version: ${s.currentVersion}${s.bootedSlot ? `, booted from USR-${s.bootedSlot}` : ''}`,
    `  Boot check: ${s.boot.status === 'health-failed' ? paint('red', boot) : boot}`,
    s.enabled
      ? `     Channel: ${s.group} at ${s.server}${s.protocol === 'omaha' ? ' (Omaha)' : ''}`
      : `     Channel: ${paint('yellow', `disabled: ${s.disabledReason ?? 'unknown'}`)}`,
    `Last checked: ${checked(s, now)}`,
  ];
  if (s.omaha) lines.push(`Omaha answer: ${omahaText(s.omaha)} at ${s.omaha.at}`);
  if (s.nextCheckAt) lines.push(`  Next check: ${s.nextCheckAt} (plus a random delay)`);
  if (s.newVersion) lines.push(` New version: ${s.newVersion} (${humanSize(s.newSize)})`);
  if (s.state === 'DOWNLOADING') lines.push(`    Progress: ${(s.progress * 100).toFixed(1)}% of ${humanSize(s.newSize)}`);
  if (s.state === 'UPDATED_NEED_REBOOT') lines.push(paint('yellow', `              ${s.newVersion} is staged: reboot to run it`));
  if (s.boot.fellBackFrom) lines.push(`   Fell back: ${s.boot.fellBackFrom} did not boot; it is not installed again`);
  if (s.lastError) lines.push(`  Last error: ${paint('red', `${s.lastError.message} [${s.lastError.code}]`)} at ${s.lastError.at}`);
  return lines.join('\n') + '\n';
}

/** The server's answer in words: an offer, nothing, or its refusal as it named it. */
function omahaText(a: NonNullable<UpdateStatusDocument['omaha']>): string {
  const poll = a.pollIntervalSec !== undefined ? `, next check in ${a.pollIntervalSec} s at the earliest` : '';
  if (a.status === 'ok') return `ok, offers ${a.version ?? '?'}${poll}`;
  if (a.status === 'noupdate') return `noupdate (the server grants no update now)${poll}`;
  return `${a.status} (the server refused the check)${poll}`;
}

function usage(message: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint: 'See agentctl update --help' });
}

async function status(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const format = values.format as string | undefined;
  if (format !== undefined && format !== 'env') throw usage(`--format=${format} is not a format (only env)`);
  const s = await call(ctx, 'GetUpdateStatus');
  if (format === 'env') ctx.stdout.write(statusEnvLines(s).join('\n') + '\n');
  else ctx.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : renderUpdateStatus(s, ctx.color));
  return EXIT.ok;
}

async function check(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const s = await call(ctx, 'UpdateCheck');
  if (values.json) ctx.stdout.write(JSON.stringify(s, null, 2) + '\n');
  else if (s.state === 'UPDATED_NEED_REBOOT') ctx.stdout.write(`${s.newVersion} is already staged: reboot to run it.\n`);
  else if (s.state === 'UPDATE_AVAILABLE') ctx.stdout.write(`Update available: ${s.newVersion} (${humanSize(s.newSize)}). Install it with: agentctl update apply\n`);
  else if (s.state !== 'IDLE') ctx.stdout.write(`An update is under way (${s.currentOperation}${s.newVersion ? `, ${s.newVersion}` : ''}): see agentctl update status; agentctl update reset cancels it.\n`);
  else ctx.stdout.write(`No update: ${s.currentVersion} is current on ${s.group}.\n`);
  return EXIT.ok;
}

/**
 * Ctrl-C cancels the update in agentd (UpdateReset: the download stops, anything staged
 * meanwhile is dropped), then agentctl exits 130; a second Ctrl-C leaves at once.
 */
async function apply(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const bar = await progressView(ctx.stderr, 'update');
  let cancelling: Promise<boolean> | undefined;
  const cancel = (): void => {
    bar.stop();
    ctx.stderr.write('\nagentctl: interrupted: cancelling the update in agentd (as agentctl update reset does)…\n');
    cancelling = call(ctx, 'UpdateReset').then(() => true, (e: unknown) => {
      ctx.stderr.write(`agentctl: could not cancel it: ${describeError(e)}; the update goes on in agentd (agentctl update status)\n`);
      return false;
    });
  };
  let json: unknown;
  try {
    [json] = await onInterrupt(() => callAgent(ctx, 'UpdateApply', [], {
      timeoutMs: APPLY_SILENCE_MS,
      signals: {
        match: `type='signal',interface='${AGENT_INTERFACE}',member='UpdateStatusChanged'`,
        onSignal: (msg) => {
          if (cancelling || msg.interface !== AGENT_INTERFACE || msg.member !== 'UpdateStatusChanged') return; // NameAcquired comes too
          const s = JSON.parse(msg.body[0] as string) as UpdateStatusDocument;
          if (s.state === 'DOWNLOADING') bar.update({ phase: 'download', done: Math.round(s.progress * s.newSize), total: s.newSize });
          else if (s.state === 'VERIFYING' || s.state === 'FINALIZING') bar.update({ phase: 'verify', done: s.newSize, total: s.newSize });
        },
      },
    }).catch((e: unknown) => {
      if (cancelling) return [];
      throw e;
    }), cancel);
  } finally {
    bar.stop();
  }
  if (cancelling) {
    if (await cancelling) ctx.stderr.write('agentctl: the update was cancelled; nothing is staged (a partial download resumes on the next apply)\n');
    return EXIT_INTERRUPTED;
  }
  const s = JSON.parse(json as string) as UpdateStatusDocument;
  if (values.json) ctx.stdout.write(JSON.stringify(s, null, 2) + '\n');
  else if (s.state === 'UPDATED_NEED_REBOOT') ctx.stdout.write(`${s.newVersion} is staged in the other slot: reboot to run it.\n`);
  else ctx.stdout.write(`No update: ${s.currentVersion} is current on ${s.group}.\n`);
  return EXIT.ok;
}

async function reset(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const s = await call(ctx, 'UpdateReset');
  ctx.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : 'No update is staged or under way any more; the next boot is the current slot.\n');
  return EXIT.ok;
}

async function rollback(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const [json] = await callAgent(ctx, 'UpdateRollback');
  const r = JSON.parse(json as string) as UpdateRollbackResult;
  ctx.stdout.write(values.json ? JSON.stringify(r, null, 2) + '\n' : `${r.label} boots next: reboot to run it.\n`);
  return EXIT.ok;
}

async function containers(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const { fetchImageUpdates, passFailures, renderImageUpdates, runImageUpdates } = await import('./image-updates.js');
  const since = new Date().toISOString();
  const doc = values.now ? await runImageUpdates(ctx) : await fetchImageUpdates(ctx);
  ctx.stdout.write(values.json ? JSON.stringify(doc, null, 2) + '\n' : renderImageUpdates(doc, ctx.color));
  // A pass that rolled a container back did not update it: a failure, as for systemctl.
  const failed = values.now ? passFailures(doc, since) : [];
  if (failed.length > 0) ctx.stderr.write(`agentctl: the image update of ${failed.join(', ')} failed (see LAST above)\n`);
  return failed.length > 0 ? EXIT.failure : EXIT.ok;
}

const SUBVERBS: Record<string, (ctx: CliContext, args: VerbArgs) => Promise<number>> = { status, check, apply, reset, rollback, containers };

export const updateVerb: Verb = {
  name: 'update',
  synopsis: 'status [--json|--format=env] | check | apply | reset | rollback | containers [--now]',
  help: `  status            the update status; --format=env prints update_engine_client's
                    LAST_CHECKED_TIME, PROGRESS, CURRENT_OP, NEW_VERSION, NEW_SIZE lines
  check             ask the update channel now (root)
  apply             check and stage the newest release into the other slot; waits,
                    with a progress bar on a terminal; Ctrl-C cancels it in agentd (root)
  reset             cancel an update under way, drop a staged update (root)
  rollback          make the other slot the next boot, if it booted healthy before (root)
  containers        container image auto-update (as agentctl image updates); --now runs a
                    pass now: discover, fetch, and in the window restart and roll back (root);
                    exits 1 when the pass rolled a container back or failed
  --json            print the result as JSON (UpdateStatusDocument of docs/dbus-api.md)
  --format=env      (status) KEY=value lines
`,
  options: { json: { type: 'boolean' }, format: { type: 'string' }, now: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  subverbs: Object.keys(SUBVERBS),
  async run(ctx, args) {
    const name = args.positionals[0]!;
    const sub = SUBVERBS[name];
    if (!sub) throw usage(`unknown subverb "${name}" (status, check, apply, reset, rollback, containers)`);
    if (args.values.format !== undefined && name !== 'status') throw usage('--format is for update status only');
    if (args.values.now !== undefined && name !== 'containers') throw usage('--now is for update containers only');
    return sub(ctx, args);
  },
};
