/**
 * After boot: decide whether the booted slot is good. A slot that is already successful is
 * left alone. Otherwise the injected health check runs (units active, grace period — the
 * caller's policy); healthy → `successful=1 tries=0`; unhealthy → the booted version is
 * recorded as failed (never installed again), the slot is left unmarked so the bootloader
 * falls back, and the reboot-required flag is written.
 * It also notices a fall-back that already happened: a release staged in the other slot
 * whose tries are spent without success is recorded as failed.
 */
import { writeFileAtomic } from '../fs/atomic.js';
import { isBootable } from '../slots/attributes.js';
import { readBootedSlot } from '../slots/booted.js';
import { otherSlot, updateSlotAttributes, type SlotName } from '../slots/slots.js';
import { recordFailedVersion } from './failed-versions.js';
import { clearJournal, readJournal } from './journal.js';
import { resolveUpdatePaths, type UpdatePathOptions } from './paths.js';

export interface MarkBootedOptions extends UpdatePathOptions {
  /** The OS version running now (from os-release). */
  bootedVersion: string;
  /** Resolves true (or void) when the host is healthy; false or a rejection means unhealthy. */
  healthCheck: () => Promise<boolean | void>;
}

export type MarkResult = { slot: SlotName; fellBackFrom?: string } & (
  | { status: 'already-good' }
  | { status: 'marked-good' }
  | { status: 'health-failed'; failedVersion: string; reason: string; rebootRequired: true }
);

export async function markBootedGood(options: MarkBootedOptions): Promise<MarkResult> {
  const paths = resolveUpdatePaths(options);
  const { booted, slots } = await readBootedSlot(paths);
  const other = slots[otherSlot(booted)];
  const journal = await readJournal(paths.journalPath);
  let fellBackFrom: string | undefined;
  if (journal?.phase === 'staged' && journal.partUuid === other.partUuid && !isBootable(other.attributes)) {
    await recordFailedVersion(paths.failedVersionsPath, journal.version);
    await clearJournal(paths.journalPath);
    fellBackFrom = journal.version;
  }
  const base = { slot: booted, ...(fellBackFrom !== undefined && { fellBackFrom }) };
  if (slots[booted].attributes.successful) return { ...base, status: 'already-good' };

  let reason = '';
  try {
    if ((await options.healthCheck()) === false) reason = 'the health check failed';
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
  }
  if (reason === '') {
    await updateSlotAttributes(paths.disk, { [booted]: { successful: true, tries: 0 } }, booted);
    if (journal?.partUuid === slots[booted].partUuid) await clearJournal(paths.journalPath);
    return { ...base, status: 'marked-good' };
  }
  await recordFailedVersion(paths.failedVersionsPath, options.bootedVersion);
  if (journal?.partUuid === slots[booted].partUuid) await clearJournal(paths.journalPath);
  await writeFileAtomic(paths.rebootRequiredPath, '', { mkdirs: true });
  return { ...base, status: 'health-failed', failedVersion: options.bootedVersion, reason, rebootRequired: true };
}
