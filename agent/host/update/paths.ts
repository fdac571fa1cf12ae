/**
 * Host paths of the OS updater, each overridable (tests, sandboxes): the disk holding
 * USR-A/USR-B, the kernel command line, the state directory (staging journal, failed
 * versions), the reboot-required flag file and the slots' boot entries.
 */
import { join } from 'node:path';
import { DEFAULT_CMDLINE_PATH } from '../slots/booted.js';

export interface UpdatePathOptions {
  /** The whole disk (block device or image file) holding USR-A and USR-B. */
  disk: string;
  /** Default /proc/cmdline. */
  cmdlinePath?: string;
  /** Default /var/lib/host-agent/updates. */
  stateDir?: string;
  /** Default /run/reboot-required. */
  rebootRequiredPath?: string;
  /** Where the staged slot's boot entry (USR-X.conf) goes for the bootloader; default `<stateDir>/boot-entries`. */
  bootEntriesDir?: string;
}

export interface UpdatePaths {
  disk: string;
  cmdlinePath: string;
  stateDir: string;
  rebootRequiredPath: string;
  bootEntriesDir: string;
  /** `<stateDir>/staging.json`: what is being (or was) written to the inactive slot. */
  journalPath: string;
  /** `<stateDir>/failed-versions.json`: versions never to install again. */
  failedVersionsPath: string;
}

export function resolveUpdatePaths(o: UpdatePathOptions): UpdatePaths {
  const stateDir = o.stateDir ?? '/var/lib/host-agent/updates';
  return {
    disk: o.disk,
    cmdlinePath: o.cmdlinePath ?? DEFAULT_CMDLINE_PATH,
    stateDir,
    rebootRequiredPath: o.rebootRequiredPath ?? '/run/reboot-required',
    bootEntriesDir: o.bootEntriesDir ?? join(stateDir, 'boot-entries'),
    journalPath: join(stateDir, 'staging.json'),
    failedVersionsPath: join(stateDir, 'failed-versions.json'),
  };
}
