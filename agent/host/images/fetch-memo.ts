/**
 * What a signed download gave, so the same image is not downloaded again: `images/fetched.json`
 * maps (URL, sha256 of the detached signature served for it) to the ID of the image that
 * signature was verified over. A detached signature covers one digest of the data, so the
 * same signature from the same URL means the same bytes, already verified and stored.
 * It is a cache: losing it costs a download; entries of removed images are ignored and
 * dropped on the next write. Writes are atomic and serialised; the newest 512 are kept.
 * A damaged file is moved aside with a warning (../fs/state-file.ts): bad entries are
 * dropped and the rest kept, a file that is not `{"fetched": [...]}` becomes an empty memo.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { removeFileDurably, writeFileAtomic } from '../fs/atomic.js';
import { isObject, keepValid, readStateFile, warnOnStderr, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';

export interface FetchMemoEntry {
  url: string;
  signatureSha256: string;
  id: string;
}

const MAX_ENTRIES = 512;

function format(entries: FetchMemoEntry[]): string {
  return `${JSON.stringify({ fetched: entries }, null, 2)}\n`;
}

function isEntry(e: unknown): e is FetchMemoEntry {
  return isObject(e) && typeof e.url === 'string' && typeof e.signatureSha256 === 'string' && /^[0-9a-f]{64}$/.test(e.signatureSha256) &&
    typeof e.id === 'string' && /^sha512-[0-9a-f]{128}$/.test(e.id);
}

/** Pure: `json` as fetched.json; bad entries are dropped. */
export function checkFetchMemo(json: unknown): Checked<FetchMemoEntry[]> {
  if (!isObject(json) || !Array.isArray(json.fetched)) return { refused: 'it is not {"fetched": [...]}' };
  const { kept, dropped } = keepValid(json.fetched, isEntry);
  return dropped === undefined ? { value: kept } : { value: kept, dropped };
}

const MEMO: StateFileKind<FetchMemoEntry[]> = {
  what: 'the memo of verified downloads (a cache)',
  instead: 'it starts empty: images already stored are downloaded again once',
  check: checkFetchMemo,
  format,
};

export class FetchMemo {
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string, private readonly warn: Warn = warnOnStderr) {}

  private get path(): string {
    return join(this.dir, 'fetched.json');
  }

  /** The image ID a download of `url` with this signature gave, if any. */
  async lookup(url: string, signatureSha256: string): Promise<string | undefined> {
    return (await this.read()).find((e) => e.url === url && e.signatureSha256 === signatureSha256)?.id;
  }

  /** Records a verified download (replacing the entry of its URL). */
  remember(entry: FetchMemoEntry): Promise<void> {
    return this.change(async (entries) => {
      const others = entries.filter((e) => e.url !== entry.url);
      const stored = await Promise.all(others.map((e) => access(join(this.dir, e.id, 'meta.json')).then(() => true, () => false)));
      return [entry, ...others.filter((_, i) => stored[i])].slice(0, MAX_ENTRIES);
    });
  }

  /** Drops the entries of a removed image. */
  forget(id: string): Promise<void> {
    return this.change(async (entries) => entries.filter((e) => e.id !== id));
  }

  /** Applies `edit` to the entries, one change at a time; an empty memo is no file. */
  private change(edit: (entries: FetchMemoEntry[]) => Promise<FetchMemoEntry[]>): Promise<void> {
    const next = this.writing.then(async () => {
      const before = await this.read();
      const after = await edit(before);
      if (after.length === 0) await removeFileDurably(this.path);
      else if (after.length !== before.length || after.some((e, i) => e !== before[i])) {
        await writeFileAtomic(this.path, format(after), { mode: 0o644 });
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<FetchMemoEntry[]> {
    return (await readStateFile(this.path, MEMO, { warn: this.warn })) ?? [];
  }
}
