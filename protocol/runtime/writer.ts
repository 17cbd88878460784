import { ProtocolError } from './errors.js';
import type { TaggedField } from './tagged.js';

/** A growable big-endian byte writer; `finish()` returns a view of what was written. */
export class Writer {
  private buf: Buffer;
  pos = 0;
  /** Parts cut off so far when byte fields are referenced (see `refAbove`), in order. */
  private parts: Buffer[] | null = null;

  /**
   * `refAbove`: byte fields (records included) of at least this many bytes are not copied but
   * referenced: `finishParts()` returns what was written as parts, those fields among them as the
   * very Buffers given. A re-encoded Fetch answer thus hands the partitions no stage changed on as
   * the bytes the broker sent, around the ones that were rewritten.
   */
  constructor(
    initial = 256,
    private readonly refAbove = Infinity,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) {
      let size = Math.max(this.buf.length * 2, 256);
      while (size < at + n) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.pos = at + n;
    return at;
  }

  finish(): Buffer {
    if (this.parts) throw new Error('Writer: byte fields were referenced; use finishParts()');
    return this.buf.subarray(0, this.pos);
  }

  /** What was written, as parts: the writer's own bytes and, between them, the byte fields it referenced. */
  finishParts(): Buffer[] {
    const out = this.parts ? [...this.parts] : [];
    if (this.pos > 0) out.push(this.buf.subarray(0, this.pos));
    return out;
  }

  /** Bytes written so far, referenced parts included. */
  get length(): number {
    let n = this.pos;
    if (this.parts) for (const p of this.parts) n += p.length;
    return n;
  }

  int8(v: number): void {
    const at = this.ensure(1);
    this.buf.writeInt8(v, at);
  }
  int16(v: number): void {
    const at = this.ensure(2);
    this.buf.writeInt16BE(v, at);
  }
  uint16(v: number): void {
    const at = this.ensure(2);
    this.buf.writeUInt16BE(v, at);
  }
  int32(v: number): void {
    const at = this.ensure(4);
    this.buf.writeInt32BE(v, at);
  }
  uint32(v: number): void {
    const at = this.ensure(4);
    this.buf.writeUInt32BE(v, at);
  }
  int64(v: bigint): void {
    const at = this.ensure(8);
    this.buf.writeBigInt64BE(v, at);
  }
  float64(v: number): void {
    const at = this.ensure(8);
    this.buf.writeDoubleBE(v, at);
  }
  bool(v: boolean): void {
    {
      const at = this.ensure(1);
      this.buf[at] = v ? 1 : 0;
    }
  }
  uuid(v: string): void {
    const bytes = Buffer.from(v, 'base64url');
    if (bytes.length !== 16) throw new ProtocolError('GH_PROTOCOL_INVALID', `uuid: ${JSON.stringify(v)} is not 16 bytes`);
    this.raw(bytes);
  }

  uvarint(v: number): void {
    let u = v >>> 0;
    while (u >= 0x80) {
      {
      const at = this.ensure(1);
      this.buf[at] = (u & 0x7f) | 0x80;
    }
      u >>>= 7;
    }
    {
      const at = this.ensure(1);
      this.buf[at] = u;
    }
  }
  varint(v: number): void {
    this.uvarint((v << 1) ^ (v >> 31));
  }
  varlong(v: bigint): void {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (u >= 0x80n) {
      {
      const at = this.ensure(1);
      this.buf[at] = Number(u & 0x7fn) | 0x80;
    }
      u >>= 7n;
    }
    {
      const at = this.ensure(1);
      this.buf[at] = Number(u);
    }
  }

  raw(b: Uint8Array): void {
    if (b.length >= this.refAbove && Buffer.isBuffer(b)) {
      // Referenced, not copied: what was written before it becomes a part, and writing goes on
      // in the rest of the current buffer.
      const parts = (this.parts ??= []);
      if (this.pos > 0) parts.push(this.buf.subarray(0, this.pos));
      parts.push(b);
      this.buf = this.buf.subarray(this.pos);
      this.pos = 0;
      return;
    }
    const at = this.ensure(b.length);
    this.buf.set(b, at);
  }

  private text(s: string, lengthPrefix: (n: number) => void): void {
    const n = Buffer.byteLength(s, 'utf8');
    lengthPrefix(n);
    const at = this.ensure(n);
    this.buf.write(s, at, n, 'utf8');
  }

  string(s: string): void {
    this.text(s, (n) => this.int16(n));
  }
  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }
  compactString(s: string): void {
    this.text(s, (n) => this.uvarint(n + 1));
  }
  compactNullableString(s: string | null): void {
    if (s === null) this.uvarint(0);
    else this.compactString(s);
  }
  bytes(b: Uint8Array): void {
    this.int32(b.length);
    this.raw(b);
  }
  nullableBytes(b: Uint8Array | null): void {
    if (b === null) this.int32(-1);
    else this.bytes(b);
  }
  compactBytes(b: Uint8Array): void {
    this.uvarint(b.length + 1);
    this.raw(b);
  }
  compactNullableBytes(b: Uint8Array | null): void {
    if (b === null) this.uvarint(0);
    else this.compactBytes(b);
  }
  arrayLength(n: number | null, compact: boolean): void {
    if (compact) this.uvarint(n === null ? 0 : n + 1);
    else this.int32(n === null ? -1 : n);
  }

  /**
   * Writes a tagged-field section: `fields` are [tag, encoder] pairs for the known fields that
   * differ from their defaults, merged in tag order with the unknown ones kept from decoding.
   */
  taggedFields(fields: Array<[number, (w: Writer) => void]>, unknown: TaggedField[] | undefined): void {
    if (fields.length === 0 && !unknown) {
      this.uvarint(0);
      return;
    }
    const all: Array<[number, Uint8Array]> = [];
    for (const [tag, enc] of fields) {
      const sub = new Writer(64);
      enc(sub);
      all.push([tag, sub.finish()]);
    }
    if (unknown) for (const u of unknown) all.push([u.tag, u.data]);
    if (all.length > 1) all.sort((a, b) => a[0] - b[0]);
    this.uvarint(all.length);
    for (const [tag, data] of all) {
      this.uvarint(tag);
      this.uvarint(data.length);
      this.raw(data);
    }
  }
}
