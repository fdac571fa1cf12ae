/**
 * One simulated host for the reboot tests: its own directory, machine id, GPT disk image
 * (test/lib/disk.ts) and kernel command line, and a real RebootCoordinator whose reboot is
 * the boot simulator (test/lib/boot-sim.ts): the "reboot" boots the disk again and starts
 * a fresh coordinator, as a restarted agentd would. After each boot the host marks the
 * booted slot good with markBootedGood (healthy after `healthDelayMs`), as the update
 * service does, and pokes the coordinator.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { RebootStatus } from '../../../agent/api/agent1.js';
import { UTC } from '../../../agent/core/schedule/timezone.js';
import { RebootCoordinator, type RebootSettings } from '../../../agent/daemon/reboot-coordinator.js';
import { createLogger } from '../../../agent/host/log/logger.js';
import { readSlotFacts } from '../../../agent/host/reboot/slot-facts.js';
import type { RebootOutcome } from '../../../agent/host/reboot/reboot.js';
import { readSlots, promoteChanges, updateSlotAttributes, otherSlot } from '../../../agent/host/slots/slots.js';
import { readBootedSlot } from '../../../agent/host/slots/booted.js';
import { markBootedGood } from '../../../agent/host/update/mark.js';
import { bootSim } from '../../lib/boot-sim.js';

/** A machine id per simulated host: 32 hex digits. */
export const machineId = (n: number): string => `${n.toString(16).padStart(2, '0').repeat(16)}`;

export interface SimHostOptions {
  dir: string;
  /** A disk image in `dir`, already made (USR-A booted and good). */
  disk: string;
  n: number;
  settings: RebootSettings;
  /** Told at each reboot, before the boot simulator runs (tests check the lock here). */
  onReboot?: (host: SimHost) => void | Promise<void>;
  /** Instead of restarting, call this after the boot simulator and hang (a child process the test kills). */
  hangOnReboot?: () => void;
  onStatus?: (status: RebootStatus) => void;
  healthDelayMs?: number;
  pollMs?: number;
  lockPollMs?: number;
  now?: () => Date;
}

const quiet = () => createLogger('json', 'error', new Writable({ write: (_c, _e, done) => done() }));

export class SimHost {
  readonly id: string;
  readonly cmdlinePath: string;
  readonly stateDir: string;
  reboots = 0;
  coordinator: RebootCoordinator | undefined;
  last: RebootStatus | undefined;
  private readonly waiters = new Set<() => void>();
  private marking: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Why marking the boot good failed, if it did. */
  markError: unknown;

  constructor(readonly options: SimHostOptions) {
    this.id = machineId(options.n);
    this.cmdlinePath = join(options.dir, 'cmdline');
    this.stateDir = join(options.dir, 'state');
  }

  /** Write the machine id and boot the disk once (the host is up, on USR-A). */
  async install(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    await writeFile(join(this.options.dir, 'machine-id'), `${this.id}\n`);
    await this.boot();
  }

  /** The bootloader's run; the command line is replaced at once, as a new boot sees it. */
  private async boot(): Promise<void> {
    const next = `${this.cmdlinePath}.next`;
    await bootSim(this.options.disk, { cmdlinePath: next });
    await rename(next, this.cmdlinePath);
  }

  /** Stage an update as the install engine does: the other slot gets one try and the top priority. */
  async stage(): Promise<void> {
    const { booted, slots } = await readBootedSlot({ disk: this.options.disk, cmdlinePath: this.cmdlinePath });
    await updateSlotAttributes(this.options.disk, promoteChanges(slots, otherSlot(booted)), booted);
    this.coordinator?.poke();
  }

  start(): void {
    this.stopped = false;
    const o = this.options;
    const facts = () => readSlotFacts({ disk: o.disk, cmdlinePath: this.cmdlinePath, rebootRequiredPath: join(this.stateDir, 'reboot-required') });
    this.coordinator = new RebootCoordinator({
      settings: o.settings,
      rebootNeeded: async () => (await facts()).rebootNeeded,
      bootMarkedGood: async () => (await facts()).bootMarkedGood,
      reboot: () => this.reboot(),
      log: quiet(),
      onStatus: (s) => {
        this.last = s;
        o.onStatus?.(s);
        for (const w of this.waiters) w();
      },
      machineIdPath: join(o.dir, 'machine-id'),
      heldPath: join(this.stateDir, 'reboot/lock-held.json'),
      zone: UTC,
      pollMs: o.pollMs ?? 500,
      lockPollMs: o.lockPollMs ?? 30,
      postponedMs: 100,
      ...(o.now && { now: o.now }),
    });
    this.coordinator.start();
    this.marking = this.markGood().catch((e: unknown) => {
      this.markError = e;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.coordinator?.stop();
    await this.marking;
  }

  /** Resolve when a published status satisfies `pred` (checked at once too). */
  waitFor(pred: (s: RebootStatus) => boolean, timeoutMs = 20_000, what = 'status'): Promise<RebootStatus> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.last && pred(this.last)) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(this.last);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`host ${this.options.n}: no ${what} in ${timeoutMs} ms (reboots: ${this.reboots}${this.markError ? `, marking failed: ${String(this.markError)}` : ""}); last: ${JSON.stringify(this.last)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Which slot is booted and whether it is good, read from the disk. */
  async slots() {
    const { booted, slots } = await readBootedSlot({ disk: this.options.disk, cmdlinePath: this.cmdlinePath });
    return { booted, good: slots[booted].attributes.successful, all: await readSlots(this.options.disk) };
  }

  private async reboot(): Promise<RebootOutcome> {
    this.reboots++;
    await this.options.onReboot?.(this);
    await this.boot();
    if (this.options.hangOnReboot) {
      this.options.hangOnReboot();
      return new Promise(() => undefined); // the process is killed now
    }
    setImmediate(() => void this.restart());
    return { kind: 'rebooting', via: 'reboot.target' };
  }

  private async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  /** After boot: mark the booted slot good once "healthy", then poke the coordinator. */
  private async markGood(): Promise<void> {
    const o = this.options;
    const { good } = await this.slots();
    if (good) return;
    await new Promise((r) => setTimeout(r, o.healthDelayMs ?? 50));
    if (this.stopped) return;
    await markBootedGood({
      disk: o.disk, cmdlinePath: this.cmdlinePath, stateDir: join(this.stateDir, 'updates'),
      rebootRequiredPath: join(this.stateDir, 'reboot-required'), bootedVersion: '2.0.0', healthCheck: async () => true,
    });
    this.coordinator?.poke();
  }
}
