import {
  closeSync,
  existsSync,
  fdatasync as fsFdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  ftruncateSync,
  writeFileSync,
  writev as fsWritev,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';

/**
 * The in-process log's files: what makes embedded mode durable. Each topic-partition is a directory of
 * append-only segment files named by their first offset; a record is a frame
 * `[u32 body length][u32 crc32 of body][body: f64 append time, u16 key length, key, value]`, and its offset
 * is its segment's base plus its index. Appends are written and fdatasync'd in groups (one flush for
 * everything appended while the previous flush ran), and only then are the records durable: the log shows
 * them to consumers and acknowledges their producers only after that. A frame torn by a crash (short or
 * failing its checksum) ends the partition: it and anything after it were never acknowledged.
 *
 * Consumer groups' committed offsets are kept in `groups.json`, rewritten (write and rename) at most every
 * `offsetsEveryMs`: an offset lost in a crash is an older one, and its records are processed again.
 */
export interface JournalRecord {
  key: string;
  value: Buffer;
  timestamp: number;
}

export interface LoadedPartition {
  base: number;
  records: JournalRecord[];
  /** Where the partition's appends go (`Journal.append`). */
  file: JournalFile;
}

/** A partition's files, as `load` opened them. */
export type JournalFile = PartitionFile;

export interface StoredGroup {
  topics: string[];
  /** Next offset to read, by `topic\u0000partition`. */
  committed: Record<string, number>;
}

export interface JournalOptions {
  /** A partition's active segment is closed and a new one started past this size. */
  segmentBytes?: number;
  /** How often at most the committed offsets are rewritten. */
  offsetsEveryMs?: number;
}

const HEADER = 8;

interface Segment {
  base: number;
  path: string;
}

interface PartitionFile {
  topic: string;
  partition: number;
  dir: string;
  /** Closed segments, oldest first, then the active one. */
  segments: Segment[];
  fd: number;
  size: number;
  /** Offset the next appended record gets. */
  next: number;
  pending: Buffer[];
}

export class Journal {
  private readonly partitions = new Map<string, PartitionFile>();
  private readonly dirty = new Set<PartitionFile>();
  private flushing: Promise<void> | null = null;
  private flushRequested = false;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private offsetsTimer: NodeJS.Timeout | null = null;
  /** The periodic rewrite of the offsets under way, if any. */
  private writingGroups: Promise<void> | null = null;
  /** Counts the offsets' snapshots taken, so that a periodic write never renames over a newer one. */
  private groupsVersion = 0;
  private closing = false;
  /** The groups' offsets as found at start; those still used are written from `live`. */
  private groups: Record<string, StoredGroup> = {};
  /** How to read the offsets of each group in use, at write time (not at every commit). */
  private readonly live = new Map<string, () => StoredGroup>();
  /** Set once a write or sync failed: nothing is appended after a record that may not be on disk. */
  private failed: Error | null = null;
  private readonly segmentBytes: number;
  private readonly offsetsEveryMs: number;

  constructor(
    readonly dir: string,
    /** Called once records up to (not including) `end` of a partition are on disk. */
    private readonly onDurable: (topic: string, partition: number, end: number) => void,
    options: JournalOptions = {},
  ) {
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.offsetsEveryMs = options.offsetsEveryMs ?? 100;
    mkdirSync(dir, { recursive: true });
    const groupsFile = join(dir, 'groups.json');
    if (existsSync(groupsFile))
      try {
        this.groups = JSON.parse(readFileSync(groupsFile, 'utf8')) as typeof this.groups;
      } catch (error) {
        // Safe to do without: every group then reads what the log holds again (at least once, not lost).
        console.error(`${groupsFile}: ${(error as Error).message}: starting without the groups' offsets`);
      }
  }

  /** The committed offsets found at start, by group. */
  storedGroups(): Readonly<Record<string, StoredGroup>> {
    return this.groups;
  }

  /** Partitions of a topic found on disk (0 for a new topic). */
  partitionsOnDisk(topic: string): number {
    const dir = join(this.dir, 'topics', encodeURIComponent(topic));
    if (!existsSync(dir)) return 0;
    return readdirSync(dir).filter((name) => /^\d+$/.test(name)).length;
  }

  /**
   * Reads a partition's records from disk and opens it for appends. A torn tail is cut off, so the next
   * append follows the last whole record.
   */
  load(topic: string, partition: number): LoadedPartition {
    const dir = join(this.dir, 'topics', encodeURIComponent(topic), String(partition));
    mkdirSync(dir, { recursive: true });
    const segments = readdirSync(dir)
      .filter((name) => /^\d{20}\.seg$/.test(name))
      .sort()
      .map((name) => ({ base: Number(name.slice(0, 20)), path: join(dir, name) }));
    const records: JournalRecord[] = [];
    let base = segments[0]?.base ?? 0;
    let next = base;
    let size = 0;
    for (let k = 0; k < segments.length; k++) {
      const segment = segments[k]!;
      if (segment.base !== next) {
        // A gap: segments before it were released while this one was not yet known whole. Keep the newest run.
        records.length = 0;
        base = next = segment.base;
      }
      const bytes = readFileSync(segment.path);
      let at = 0;
      while (at + HEADER <= bytes.length) {
        const length = bytes.readUInt32LE(at);
        const end = at + HEADER + length;
        if (end > bytes.length) break;
        const body = bytes.subarray(at + HEADER, end);
        if (crc32(body) !== bytes.readUInt32LE(at + 4)) break;
        const timestamp = body.readDoubleLE(0);
        const keyLength = body.readUInt16LE(8);
        const key = body.toString('utf8', 10, 10 + keyLength);
        // A copy: a slice would keep the whole segment's buffer alive as long as any record of it.
        const value = Buffer.from(body.subarray(10 + keyLength));
        records.push({ key, value, timestamp });
        next++;
        at = end;
      }
      if (at < bytes.length) {
        // A torn tail: never acknowledged. Cut it and drop any later segment (there can be none after a
        // tear, since a new segment starts only after the previous one was flushed whole).
        const fd = openSync(segment.path, 'r+');
        ftruncateSync(fd, at);
        fsyncSync(fd);
        closeSync(fd);
        for (const later of segments.splice(k + 1)) rmSync(later.path, { force: true });
      }
      size = at;
    }
    if (segments.length === 0) segments.push({ base, path: segmentPath(dir, base) });
    const active = segments.at(-1)!;
    const file: PartitionFile = {
      topic,
      partition,
      dir,
      segments,
      fd: openSync(active.path, 'a'),
      size,
      next,
      pending: [],
    };
    syncDirectory(dir);
    this.partitions.set(tpId(topic, partition), file);
    return { base, records, file };
  }

  /** Queues a record for the next flush; `offset` must be the partition's next. */
  append(file: JournalFile, offset: number, record: JournalRecord): void {
    if (this.failed) throw this.failed;
    if (offset !== file.next)
      throw new Error(`journal: ${file.topic}[${file.partition}] expects offset ${file.next}, not ${offset}`);
    const keyLength = Buffer.byteLength(record.key);
    const frame = Buffer.allocUnsafe(HEADER + 10 + keyLength + record.value.length);
    frame.writeUInt32LE(10 + keyLength + record.value.length, 0);
    frame.writeDoubleLE(record.timestamp, HEADER);
    frame.writeUInt16LE(keyLength, HEADER + 8);
    frame.write(record.key, HEADER + 10, 'utf8');
    record.value.copy(frame, HEADER + 10 + keyLength);
    frame.writeUInt32LE(crc32(frame.subarray(HEADER)), 4);
    file.pending.push(frame);
    file.next++;
    this.dirty.add(file);
  }

  /** Resolves once everything appended so far is on disk (rejects if writing it failed). */
  sync(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.dirty.size === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.flushRequested = true;
      this.scheduleFlush();
    });
  }

  /** Deletes a partition's segments that hold only offsets below `offset` (all consumers are past them). */
  release(file: JournalFile, offset: number): void {
    while (file.segments.length > 1 && file.segments[1]!.base <= offset) {
      rmSync(file.segments.shift()!.path, { force: true });
    }
  }

  /** Keeps a group's offsets, read by `snapshot` whenever they are written; written now, synced. */
  keepGroup(name: string, snapshot: () => StoredGroup): void {
    this.live.set(name, snapshot);
    this.writeGroups(true);
  }

  /** Forgets a group found at start that nothing uses any more. */
  forgetGroup(name: string): void {
    delete this.groups[name];
    this.live.delete(name);
    this.offsetsChanged();
  }

  /** Some kept group committed: its offsets are written within `offsetsEveryMs`. */
  offsetsChanged(): void {
    if (this.offsetsTimer || this.closing) return;
    this.offsetsTimer = setTimeout(() => {
      this.offsetsTimer = null;
      // One write at a time, so an older snapshot never replaces a newer one; a commit meanwhile waits a turn.
      if (this.writingGroups) return void this.writingGroups.then(() => this.offsetsChanged());
      this.writingGroups = this.writeGroupsAsync()
        .catch((error: Error) => {
          // The offsets on disk stay older ones: records are read again after a restart, not lost.
          console.error(`in-process log: writing the groups' offsets: ${error.message}`);
        })
        .finally(() => (this.writingGroups = null));
    }, this.offsetsEveryMs);
  }

  async close(): Promise<void> {
    // After a failed write there is nothing more to flush: sync() says why, and close goes on.
    while (this.flushing || this.dirty.size) await this.sync().catch(() => undefined);
    // The offsets are written once more below, after any periodic write under way.
    this.closing = true;
    if (this.offsetsTimer) {
      clearTimeout(this.offsetsTimer);
      this.offsetsTimer = null;
    }
    await this.writingGroups;
    this.writeGroups();
    for (const file of this.partitions.values()) closeSync(file.fd);
    this.partitions.clear();
  }

  /** Flushed before the rename, so a crash leaves the old file or the new one, never a torn one. */
  private writeGroups(syncDir = false): void {
    const path = join(this.dir, 'groups.json');
    writeFileSync(`${path}.tmp`, this.groupsJson(), { flush: true });
    renameSync(`${path}.tmp`, path);
    if (syncDir) syncDirectory(this.dir);
  }

  /**
   * As writeGroups(), on the thread pool: the periodic rewrite's flush (milliseconds of the disk's time, ten
   * times a second) would otherwise stop the event loop, and with it ingest, while it lasts.
   */
  private async writeGroupsAsync(): Promise<void> {
    const path = join(this.dir, 'groups.json');
    const json = this.groupsJson();
    const version = this.groupsVersion;
    await writeFile(`${path}.periodic`, json, { flush: true });
    // A synchronous write meanwhile (a group kept) holds newer offsets: this older snapshot must not replace
    // it. The rename itself is synchronous, so no synchronous write can come between the check and it.
    if (version === this.groupsVersion) renameSync(`${path}.periodic`, path);
  }

  private groupsJson(): string {
    this.groupsVersion++;
    for (const [name, snapshot] of this.live) this.groups[name] = snapshot();
    return JSON.stringify(this.groups);
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  /** Flushes until nothing is pending: each round writes what was appended before it started. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.flushRequested || this.dirty.size) {
        this.flushRequested = false;
        const waiters = this.waiters;
        this.waiters = [];
        const files = [...this.dirty];
        this.dirty.clear();
        try {
          // Written on the thread pool, so the event loop goes on taking appends for the next round.
          const ends = await Promise.all(files.map((file) => this.write(file)));
          files.forEach((file, k) => this.onDurable(file.topic, file.partition, ends[k]!));
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          // A record after one that may be torn or missing would get a wrong offset at the next load: the
          // journal takes no more (sends fail, so nothing more is acknowledged), and says why.
          this.failed = new Error(`the in-process log cannot write ${this.dir}: ${(error as Error).message}`);
          console.error(this.failed.message);
          for (const waiter of [...waiters, ...this.waiters.splice(0)]) waiter.reject(this.failed);
          this.dirty.clear();
          return;
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** Writes and syncs a partition's pending frames; returns the end offset now on disk. */
  private async write(file: PartitionFile): Promise<number> {
    const frames = file.pending;
    const end = file.next;
    file.pending = [];
    const fd = file.fd;
    for (let k = 0; k < frames.length; k += 1024) {
      const chunk = frames.slice(k, k + 1024);
      const bytes = chunk.reduce((sum, frame) => sum + frame.length, 0);
      const { bytesWritten: written } = await writev(fd, chunk);
      if (written !== bytes) throw new Error(`short write: ${written} of ${bytes} bytes`);
      file.size += bytes;
    }
    await fdatasync(fd);
    if (file.size >= this.segmentBytes) {
      // Frames appended meanwhile are still pending: they open the new segment, whose base is `end`.
      closeSync(fd);
      const path = segmentPath(file.dir, end);
      file.segments.push({ base: end, path });
      file.fd = openSync(path, 'a');
      file.size = 0;
      syncDirectory(file.dir);
    }
    return end;
  }
}

const writev = promisify(fsWritev);
const fdatasync = promisify(fsFdatasync);

/** A new file's directory entry must survive a crash too. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

const tpId = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const segmentPath = (dir: string, base: number) => join(dir, `${String(base).padStart(20, '0')}.seg`);
