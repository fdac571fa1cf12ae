/**
 * The update status as clients see it (D-Bus GetUpdateStatus, `agentctl update status`):
 * the five fields update_engine_client printed, derived from the machine's state.
 */
import type { UpdateState } from './machine.js';

export interface UpdateStatus {
  /** Seconds since the epoch of the last completed check; 0 = never. */
  lastCheckedTime: number;
  /** 0.0-1.0 while downloading; 1.0 once staged; 0.0 otherwise. */
  progress: number;
  /** `UPDATE_STATUS_<STATE>`, e.g. UPDATE_STATUS_DOWNLOADING. */
  currentOperation: string;
  /** The version being installed or staged; empty when none. */
  newVersion: string;
  /** Bytes of that version's payload; 0 when none. */
  newSize: number;
}

export function updateStatus(s: UpdateState): UpdateStatus {
  const release = 'release' in s ? s.release : undefined;
  let progress = 0;
  if (s.kind === 'DOWNLOADING') progress = s.bytesDone / s.release.payload.size;
  else if (s.kind === 'VERIFYING' || s.kind === 'FINALIZING' || s.kind === 'UPDATED_NEED_REBOOT') progress = 1;
  return {
    lastCheckedTime: Math.floor(s.lastChecked / 1000),
    progress,
    currentOperation: `UPDATE_STATUS_${s.kind}`,
    newVersion: release?.version ?? '',
    newSize: release?.payload.size ?? 0,
  };
}

/** The `KEY=value` lines of `--format=env`, in update_engine_client's order and names. */
export function statusEnvLines(status: UpdateStatus): string[] {
  return [
    `LAST_CHECKED_TIME=${status.lastCheckedTime}`,
    `PROGRESS=${status.progress}`,
    `CURRENT_OP=${status.currentOperation}`,
    `NEW_VERSION=${status.newVersion || '0.0.0'}`,
    `NEW_SIZE=${status.newSize}`,
  ];
}
