/**
 * Runs a plan's steps against the host, in order. A step that fails is reported with
 * what it was and why, and the steps after it still run (a broken unit must not keep the
 * others from starting); jobs wait for systemd's result. /etc/passwd and /etc/group are
 * read once per run, and again after a user is created, so the steps after it (its SSH
 * keys, files it owns) see it.
 *
 * The files of a plan (write_files, unit files, drop-ins, the SSH keys of users that exist
 * before the apply) are written all or nothing: every one is first written to a temp file
 * next to its place; only when all are written do the steps run, each write step renaming
 * its temp into place. When one cannot be written (a full disk: `disk.full`) the temps are
 * removed, no step runs and the error is thrown: the host keeps its old files.
 */
import { join } from 'node:path';
import type { Step } from '../../core/plan/steps.js';
import { describeStep } from '../../core/plan/steps.js';
import { AgentError, describeError } from '../../core/errors.js';
import { stageFile, type StagedFile } from '../fs/atomic.js';
import { readAccounts, resolveOwner, type Accounts } from './accounts.js';
import { stageManagedKeys, writeManagedKeys } from './ssh-keys.js';
import { createUser, setPasswordHash } from './users.js';
import type { HostContext } from './observe.js';

export interface StepResult {
  step: string;
  error?: string;
}

/** /etc/passwd and /etc/group, read on the first step that needs them and after a change. */
interface AccountsCache {
  get(): Promise<Accounts>;
  changed(): void;
}

function accountsCache(root: string): AccountsCache {
  let read: Promise<Accounts> | undefined;
  return {
    get: () => (read ??= readAccounts(root)),
    changed: () => { read = undefined; },
  };
}

/** Writes the temp of every file the steps write; on any failure removes those written and throws. */
async function stageFiles(steps: Step[], ctx: HostContext, cache: AccountsCache): Promise<Map<Step, StagedFile>> {
  const staged = new Map<Step, StagedFile>();
  try {
    for (const step of steps) {
      if (step.kind === 'write-file') staged.set(step, await stageFile(join(ctx.root, step.path), step.content, { mode: step.mode, mkdirs: true }));
      else if (step.kind === 'write-unit') staged.set(step, await ctx.unitFiles.stage(step.unit, step.text, step.runtime));
      else if (step.kind === 'write-dropin') staged.set(step, await ctx.unitFiles.stageDropIn(step.unit, step.name, step.text, step.runtime));
      else if (step.kind === 'write-ssh-keys') {
        // The keys of a user this apply creates are written when their step runs.
        const user = (await cache.get()).users.get(step.user);
        if (user) staged.set(step, await stageManagedKeys(user, ctx.root, step.keys));
      }
    }
  } catch (e) {
    await Promise.all([...staged.values()].map((f) => f.discard()));
    throw e;
  }
  return staged;
}

async function runStep(step: Step, ctx: HostContext, cache: AccountsCache, staged: Map<Step, StagedFile>): Promise<void> {
  const { systemd } = ctx;
  switch (step.kind) {
    case 'write-file': {
      const ids = step.owner === undefined ? { uid: 0, gid: 0 } : resolveOwner(step.owner, await cache.get());
      if (!ids) throw new AgentError({ code: 'config.unknown-owner', message: `owner ${step.owner} does not exist`, subject: step.path, hint: 'Create the user first' });
      return staged.get(step)!.commit(ids);
    }
    case 'set-hostname': return ctx.hostname.set(step.hostname);
    case 'create-user':
      try {
        return await createUser(step.user, { root: ctx.root });
      } finally {
        cache.changed();
      }
    case 'set-password': return setPasswordHash(step.user, step.hash, { root: ctx.root });
    case 'write-ssh-keys': {
      const file = staged.get(step);
      if (file) return file.commit();
      const user = (await cache.get()).users.get(step.user);
      if (!user) throw new AgentError({ code: 'config.unknown-user', message: `user ${step.user} does not exist`, subject: 'ssh_authorized_keys', hint: 'Add the user to users: or create it on the host' });
      return writeManagedKeys(user, ctx.root, step.keys);
    }
    case 'write-unit': return staged.get(step)!.commit();
    case 'remove-unit': await ctx.unitFiles.remove(step.unit, step.runtime); return;
    case 'write-dropin': return staged.get(step)!.commit();
    case 'remove-dropin': await ctx.unitFiles.removeDropIn(step.unit, step.name, step.runtime); return;
    case 'mask': await systemd.mask([step.unit], step.runtime); return;
    case 'unmask': await systemd.unmask([step.unit], step.runtime); return;
    case 'daemon-reload': return systemd.daemonReload();
    case 'enable': await systemd.enable([step.unit], step.runtime); return;
    case 'disable': await systemd.disable([step.unit], step.runtime); return;
    case 'unit-job': return systemd.runJob(step.command, step.unit);
  }
}

/** Runs the steps; throws (having changed nothing) when their files cannot all be written. */
export async function executeSteps(steps: Step[], ctx: HostContext, onStep?: (r: StepResult) => void): Promise<StepResult[]> {
  const cache = accountsCache(ctx.root);
  const staged = await stageFiles(steps, ctx, cache);
  const results: StepResult[] = [];
  try {
    for (const step of steps) {
      const result: StepResult = { step: describeStep(step) };
      try {
        await runStep(step, ctx, cache, staged);
      } catch (e) {
        result.error = describeError(e);
      }
      results.push(result);
      onStep?.(result);
    }
  } finally {
    // The temps of write steps that failed before their rename (unknown owner).
    await Promise.all([...staged.values()].map((f) => f.discard()));
  }
  return results;
}
