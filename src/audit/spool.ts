/**
 * The audit spool: a bounded, append-only file of events waiting for the audit topic, read back
 * in order. `spool.jsonl` holds one entry per line; `spool.pos` the byte offset up to which
 * entries were delivered (written after each delivered batch, so a restart resends at most one
 * batch). When everything is delivered both files are removed. Appends are fsync'ed; the files
 * are owner-only (events may hold captured record keys and values).
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, writeFileSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SpoolEntry {
  key: string;
  value: string;
}

export class Spool {
  private readonly file: string;
  private readonly posFile: string;
  private fd: number | undefined;
  private size = 0;
  private pos = 0;
  private count = 0;
  /** Entries read ahead from `pos`, with their byte lengths. */
  private ahead: Array<{ entry: SpoolEntry; bytes: number }> = [];
  private aheadEnd = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, 'spool.jsonl');
    this.posFile = join(dir, 'spool.pos');
    if (existsSync(this.file)) {
      this.fd = openSync(this.file, 'a+');
      this.size = fstatSync(this.fd).size;
      const pos = existsSync(this.posFile) ? Number(readFileSync(this.posFile, 'utf8').trim()) : 0;
      this.pos = Number.isFinite(pos) && pos >= 0 && pos <= this.size ? pos : 0;
      this.aheadEnd = this.pos;
      // Count what is left (a restart after a crash or a stop while the topic was away).
      let n = 0;
      for (let at = this.pos; ; ) {
        const chunk = this.readAt(at, 1 << 20);
        if (chunk.length === 0) break;
        const last = chunk.lastIndexOf(0x0a);
        if (last < 0) break;
        for (let i = 0; i <= last; i++) if (chunk[i] === 0x0a) n++;
        at += last + 1;
      }
      this.count = n;
      if (n === 0) this.reset();
    }
  }

  /** Entries waiting. */
  get pending(): number {
    return this.count;
  }

  /** Where the next entry will start (bytes from the start of the file). */
  get end(): number {
    return this.size;
  }

  /** Up to where entries were delivered (bytes): an entry ending at or before it is on the topic. */
  get delivered(): number {
    return this.pos;
  }

  /** Bytes waiting. */
  get pendingBytes(): number {
    return this.size - this.pos;
  }

  /** Appends entries in order; false (nothing written) when they would not fit. */
  append(entries: readonly SpoolEntry[]): boolean {
    if (entries.length === 0) return true;
    const text = entries.map((e) => `${JSON.stringify({ k: e.key, v: e.value })}\n`).join('');
    const buf = Buffer.from(text, 'utf8');
    if (this.size - this.pos + buf.length > this.maxBytes) return false;
    this.fd ??= openSync(this.file, 'a+', 0o600);
    writeSync(this.fd, buf, 0, buf.length, this.size);
    fsyncSync(this.fd);
    this.size += buf.length;
    this.count += entries.length;
    return true;
  }

  /** The first `n` waiting entries (fewer if fewer wait), in order; the same ones until commit(). */
  peek(n: number): SpoolEntry[] {
    while (this.ahead.length < n && this.aheadEnd < this.size) {
      const chunk = this.readAt(this.aheadEnd, Math.max(64 * 1024, Math.min(4 << 20, this.size - this.aheadEnd)));
      let start = 0;
      let found = false;
      for (let i = 0; i < chunk.length && this.ahead.length < n; i++) {
        if (chunk[i] !== 0x0a) continue;
        const line = chunk.subarray(start, i).toString('utf8');
        const o = JSON.parse(line) as { k: string; v: string };
        this.ahead.push({ entry: { key: o.k, value: o.v }, bytes: i + 1 - start });
        start = i + 1;
        found = true;
      }
      this.aheadEnd += start;
      if (!found) break; // a torn last line (crash mid-append) is never delivered
    }
    return this.ahead.slice(0, n).map((a) => a.entry);
  }

  /** The first `n` entries were delivered. */
  commit(n: number): void {
    const done = this.ahead.splice(0, n);
    for (const d of done) this.pos += d.bytes;
    this.count -= done.length;
    if (this.count <= 0) this.reset();
    else writeFileSync(this.posFile, String(this.pos));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private readAt(at: number, len: number): Buffer {
    if (this.fd === undefined) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(len);
    const n = readSync(this.fd, buf, 0, len, at);
    return buf.subarray(0, n);
  }

  private reset(): void {
    this.close();
    rmSync(this.file, { force: true });
    rmSync(this.posFile, { force: true });
    this.size = 0;
    this.pos = 0;
    this.count = 0;
    this.ahead = [];
    this.aheadEnd = 0;
  }
}
