/**
 * Unit files the agent writes: where they live, atomic write and removal, and the marker
 * that tells the agent's own units from the administrator's.
 *
 * A unit the agent wrote carries `X-HostAgent-Source=<origin>` in [Unit] (systemd ignores
 * X- keys) after a header comment; only such units are ever changed or removed.
 */
import { readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { removeFileDurably, stageFile, type StagedFile } from '../fs/atomic.js';
import type { BusKind } from '../../api/agent1.js';
import { markerOf } from '../../core/plan/unit-text.js';

export { markerOf };

export interface UnitDirs {
  /** Persistent unit files (/etc/systemd/system, or the user config dir). */
  persistent: string;
  /** Runtime unit files, gone at reboot (/run/systemd/system, or $XDG_RUNTIME_DIR/systemd/user). */
  runtime: string;
}

export function defaultUnitDirs(bus: BusKind, env: NodeJS.ProcessEnv = process.env): UnitDirs {
  if (bus === 'system') return { persistent: '/etc/systemd/system', runtime: '/run/systemd/system' };
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  const runtime = env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`;
  return { persistent: join(config, 'systemd/user'), runtime: join(runtime, 'systemd/user') };
}

export interface ManagedUnitFile {
  name: string;
  path: string;
  runtime: boolean;
  origin: string;
  text: string;
}

export class UnitFileStore {
  constructor(readonly dirs: UnitDirs) {}

  pathOf(name: string, runtime = false): string {
    return join(runtime ? this.dirs.runtime : this.dirs.persistent, name);
  }

  async write(name: string, text: string, runtime = false): Promise<void> {
    await (await this.stage(name, text, runtime)).commit();
  }

  /** A unit file written to its temp, put in place by `commit` (for all-or-nothing applies). */
  stage(name: string, text: string, runtime = false): Promise<StagedFile> {
    return stageFile(this.pathOf(name, runtime), text, { mode: 0o644, mkdirs: true });
  }

  async read(name: string, runtime = false): Promise<string | undefined> {
    try {
      return await readFile(this.pathOf(name, runtime), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async remove(name: string, runtime = false): Promise<boolean> {
    return removeFileDurably(this.pathOf(name, runtime));
  }

  dropInPath(unit: string, name: string, runtime = false): string {
    return join(this.pathOf(`${unit}.d`, runtime), name);
  }

  async writeDropIn(unit: string, name: string, text: string, runtime = false): Promise<void> {
    await (await this.stageDropIn(unit, name, text, runtime)).commit();
  }

  stageDropIn(unit: string, name: string, text: string, runtime = false): Promise<StagedFile> {
    return stageFile(this.dropInPath(unit, name, runtime), text, { mode: 0o644, mkdirs: true });
  }

  /** Remove a drop-in, and its directory when that is left empty. */
  async removeDropIn(unit: string, name: string, runtime = false): Promise<boolean> {
    const removed = await removeFileDurably(this.dropInPath(unit, name, runtime));
    await rmdir(this.pathOf(`${unit}.d`, runtime)).catch(() => undefined);
    return removed;
  }

  /** The agent's drop-ins of `unit` in both directories, with the origin their marker names. */
  async readDropIns(unit: string): Promise<Array<{ name: string; runtime: boolean; origin: string; text: string }>> {
    const found: Array<{ name: string; runtime: boolean; origin: string; text: string }> = [];
    for (const runtime of [false, true]) {
      const dir = this.pathOf(`${unit}.d`, runtime);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith('.conf')).sort()) {
        const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
        const origin = text === undefined ? undefined : markerOf(text);
        if (text !== undefined && origin !== undefined) found.push({ name, runtime, origin, text });
      }
    }
    return found;
  }

  /** Unit files in both directories that carry the agent's marker. */
  async listManaged(): Promise<ManagedUnitFile[]> {
    const found: ManagedUnitFile[] = [];
    for (const runtime of [false, true]) {
      const dir = runtime ? this.dirs.runtime : this.dirs.persistent;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      for (const name of names.sort()) {
        if (!/\.(service|socket|timer|path|mount|target)$/.test(name)) continue;
        const path = join(dir, name);
        const text = await readFile(path, 'utf8').catch(() => undefined);
        const origin = text === undefined ? undefined : markerOf(text);
        if (text !== undefined && origin !== undefined) found.push({ name, path, runtime, origin, text });
      }
    }
    return found;
  }
}
