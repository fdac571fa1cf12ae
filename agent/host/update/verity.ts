/**
 * Checks a written USR slot against the signed dm-verity root hash with `veritysetup verify`
 * (apt cryptsetup-bin), before the slot may boot. Partitions have no device nodes here
 * (addressed by offset on the whole disk), and veritysetup has no data offset: the data is
 * read through a read-only loop device over the slot (`losetup --offset --sizelimit`), the
 * hash tree from the disk itself at its absolute byte offset (`--hash-offset`), appended in
 * the slot or in the slot's verity partition alike. Every parameter comes from the signed
 * release (`--no-superblock`; a superblock is skipped, never believed). The loop device is
 * detached on every path.
 */
import { AgentError } from '../../core/errors.js';
import { verityDataBytes, type Verity } from '../../core/update/verity.js';
import { execProgram } from '../network/exec.js';
import type { Slot } from '../slots/slots.js';

export interface VerityCheckOptions {
  /** Default `veritysetup` (from PATH; /usr/sbin/veritysetup on Debian). */
  veritysetupPath?: string;
  /** Default `losetup`. */
  losetupPath?: string;
  /** Deadline of the whole check; default 10 minutes. */
  timeoutMs?: number;
  /** Cancels the check (`update.cancelled`). */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** The byte offset on `disk` where the hash tree starts (past the superblock, if any). */
export function hashTreeOffset(slot: Slot, verity: Verity): number {
  const area = verity.hashTree === 'appended' ? slot.offset + verity.hashOffset : slot.verity?.offset;
  if (area === undefined) {
    throw new AgentError({ code: 'slots.missing', message: `the disk has no ${slot.label}-verity partition for the image's hash tree`, subject: slot.label, hint: `Partition the disk with a ${slot.label}-verity partition, or publish the release with the tree appended` });
  }
  return area + (verity.superblock ? verity.hashBlockSize : 0);
}

function unavailable(what: string, detail: string, disk: string, cause?: unknown): AgentError {
  return new AgentError({
    code: 'update.verity-unavailable',
    message: `cannot check the slot's dm-verity hash: ${what}: ${detail}`,
    subject: disk,
    hint: 'Install cryptsetup-bin (veritysetup) and util-linux (losetup), and run agentd as root so it can set up a loop device',
    ...(cause !== undefined && { cause }),
  });
}

function cancelled(): AgentError {
  return new AgentError({ code: 'update.cancelled', message: 'the update was cancelled', subject: 'dm-verity check', hint: 'A new apply writes and checks the slot again' });
}

async function run(program: string, args: string[], disk: string, what: string, timeoutMs: number, signal: AbortSignal | undefined) {
  try {
    return await execProgram(program, args, { timeoutMs, ...(signal && { signal }) });
  } catch (e) {
    if (signal?.aborted) throw cancelled();
    throw unavailable(what, e instanceof Error ? e.message : String(e), disk, e);
  }
}

/**
 * Verify `slot` of `disk` against `verity` (its root hash signed in the release); throws
 * `update.verity-mismatch` when the data or the tree do not give that root hash.
 */
export async function verifySlotVerity(disk: string, slot: Slot, verity: Verity, options: VerityCheckOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  const hashOffset = hashTreeOffset(slot, verity);
  const dataBytes = verityDataBytes(verity);
  if (dataBytes > slot.size) {
    throw new AgentError({ code: 'update.verity-mismatch', message: `the release's dm-verity data (${dataBytes} bytes) is larger than ${slot.label} (${slot.size} bytes)`, subject: disk, hint: 'Publish a release built for this disk layout' });
  }
  const losetup = options.losetupPath ?? 'losetup';
  const attach = await run(losetup, ['--find', '--show', '--read-only', '--offset', String(slot.offset), '--sizelimit', String(dataBytes), disk], disk, 'losetup', left(), options.signal);
  const loop = attach.stdout.trim();
  if (attach.code !== 0 || !loop.startsWith('/dev/')) throw unavailable('losetup', attach.stderr.trim() || `exit ${attach.code}`, disk);
  try {
    const args = [
      'verify', loop, disk, verity.rootHash, '--no-superblock',
      `--hash=${verity.hashAlgorithm}`, `--data-block-size=${verity.dataBlockSize}`, `--hash-block-size=${verity.hashBlockSize}`,
      `--data-blocks=${verity.dataBlocks}`, `--hash-offset=${hashOffset}`, `--salt=${verity.salt === '' ? '-' : verity.salt}`,
    ];
    const out = await run(options.veritysetupPath ?? 'veritysetup', args, disk, 'veritysetup', left(), options.signal);
    if (out.code === 0) return;
    if (out.code === null) throw unavailable('veritysetup', `no answer within ${timeoutMs} ms`, disk);
    throw new AgentError({
      code: 'update.verity-mismatch',
      message: `${slot.label} does not verify against the signed dm-verity root hash ${verity.rootHash}: ${out.stderr.trim().split('\n').join('; ') || `veritysetup exit ${out.code}`}`,
      subject: disk,
      hint: 'The image or its hash tree does not match the signed release (damaged or wrongly built); the slot stays unbootable. Check the release on the update server',
    });
  } finally {
    await execProgram(losetup, ['--detach', loop], { timeoutMs: 30_000 }).catch(() => undefined);
  }
}
