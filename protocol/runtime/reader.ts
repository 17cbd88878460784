import { ProtocolError } from './errors.js';
import type { TaggedField } from './tagged.js';

/**
 * A bounds-checked cursor over a Buffer. Every read either returns a value or throws a
 * ProtocolError; nothing here can throw a RangeError or allocate more than the input holds.
 * Byte fields are returned as views (subarray) into the input: no copies.
 */
export class Reader {
  /** The buffer the last `need` returned an offset into (SegmentedReader switches it). */
  buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  protected need(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) {
      throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `${what}: needs ${n} bytes at offset ${at}, ${this.end - at} left`);
    }
    this.pos = at + n;
    return at;
  }

  int8(): number {
    const at = this.need(1, 'int8');
    return this.buf.readInt8(at);
  }
  int16(): number {
    const at = this.need(2, 'int16');
    return this.buf.readInt16BE(at);
  }
  uint16(): number {
    const at = this.need(2, 'uint16');
    return this.buf.readUInt16BE(at);
  }
  int32(): number {
    const at = this.need(4, 'int32');
    return this.buf.readInt32BE(at);
  }
  uint32(): number {
    const at = this.need(4, 'uint32');
    return this.buf.readUInt32BE(at);
  }
  int64(): bigint {
    const at = this.need(8, 'int64');
    return this.buf.readBigInt64BE(at);
  }
  float64(): number {
    const at = this.need(8, 'float64');
    return this.buf.readDoubleBE(at);
  }
  bool(): boolean {
    const at = this.need(1, 'bool');
    return this.buf[at] !== 0;
  }

  /** Kafka's Uuid as its canonical string: 16 bytes in URL-safe base64 without padding. */
  uuid(): string {
    const at = this.need(16, 'uuid');
    return this.buf.toString('base64url', at, at + 16);
  }

  /** Unsigned LEB128 varint of at most 5 bytes (32 bits). */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const at = this.need(1, 'varint');
      const b = this.buf[at]!;
      value |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return value >>> 0;
    }
    throw new ProtocolError('GH_PROTOCOL_INVALID', `varint longer than 5 bytes at offset ${this.pos - 5}`);
  }

  /** Zigzag-encoded signed varint (record fields). */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zigzag-encoded signed varlong, at most 10 bytes. */
  varlong(): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      const at = this.need(1, 'varlong');
      const b = this.buf[at]!;
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
    }
    throw new ProtocolError('GH_PROTOCOL_INVALID', `varlong longer than 10 bytes at offset ${this.pos - 10}`);
  }

  /**
   * A length as Kafka's generated readers take it: any negative length is null (refused for a
   * field that is not nullable), so -2 reads like -1 in a nullable field.
   */
  private len(n: number, what: string, nullable: boolean): number {
    if (n < 0) {
      if (!nullable) throw new ProtocolError('GH_PROTOCOL_INVALID', `${what}: invalid length ${n} at offset ${this.pos}`);
      return -1;
    }
    return n;
  }

  /** A compact length: the unsigned varint minus one, in Java's signed 32-bit arithmetic. */
  private compactLen(): number {
    return (this.uvarint() - 1) | 0;
  }

  private text(n: number, what: string): string {
    const at = this.need(n, what);
    return this.buf.toString('utf8', at, at + n);
  }

  string(): string {
    return this.text(this.len(this.int16(), 'string', false), 'string');
  }
  nullableString(): string | null {
    const n = this.len(this.int16(), 'nullable string', true);
    return n < 0 ? null : this.text(n, 'nullable string');
  }
  compactString(): string {
    const n = this.len(this.compactLen(), 'compact string', false);
    return this.text(n, 'compact string');
  }
  compactNullableString(): string | null {
    const n = this.len(this.compactLen(), 'compact nullable string', true);
    return n < 0 ? null : this.text(n, 'compact nullable string');
  }

  /** A view of the next n bytes. */
  raw(n: number): Buffer {
    const at = this.need(n, 'bytes');
    return this.buf.subarray(at, at + n);
  }

  bytes(): Buffer {
    return this.raw(this.len(this.int32(), 'bytes', false));
  }
  nullableBytes(): Buffer | null {
    const n = this.len(this.int32(), 'nullable bytes', true);
    return n < 0 ? null : this.raw(n);
  }
  compactBytes(): Buffer {
    return this.raw(this.len(this.compactLen(), 'compact bytes', false));
  }
  compactNullableBytes(): Buffer | null {
    const n = this.len(this.compactLen(), 'compact nullable bytes', true);
    return n < 0 ? null : this.raw(n);
  }

  /**
   * An array length (int32, or uvarint-1 when compact). A count larger than the bytes left can
   * not be honest (every element takes at least one byte), so it is refused before allocating.
   */
  arrayLength(compact: boolean, nullable: boolean): number {
    const n = compact ? this.compactLen() : this.int32();
    if (n < 0) {
      if (!nullable) throw new ProtocolError('GH_PROTOCOL_INVALID', `array: invalid length ${n} at offset ${this.pos}`);
      return -1; // any negative length is null, as in Kafka's readers
    }
    if (n > this.remaining) {
      throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `array: ${n} elements but ${this.remaining} bytes left at offset ${this.pos}`);
    }
    return n;
  }

  /**
   * Reads a tagged-field section. Known tags are handed to `known` with a Reader bounded to the
   * field's bytes (it returns false for a tag it does not know); the others come back raw so that
   * re-encoding reproduces them. Read exactly as Kafka's own generated readers do: tags may come
   * in any order (the Writer puts them back in order), a repeated known tag takes the last value,
   * a known field's value is read from the message itself whatever size it declares, and the
   * count is a signed 32-bit int (2^31 and above are negative: no field is read).
   */
  taggedFields(known: (tag: number, r: Reader) => boolean): TaggedField[] | undefined {
    const count = this.uvarint() | 0;
    if (count > this.remaining) {
      throw new ProtocolError('GH_PROTOCOL_TRUNCATED', `tagged fields: ${count} fields but ${this.remaining} bytes left`);
    }
    let unknown: TaggedField[] | undefined;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      if (known(tag, this)) continue;
      const start = this.need(size, `tagged field ${tag}`);
      (unknown ??= []).push({ tag, data: this.buf.subarray(start, start + size) });
    }
    return unknown;
  }

  /** Skips a tagged-field section without materializing it. */
  skipTaggedFields(): void {
    const count = this.uvarint() | 0; // signed, as in taggedFields
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.need(this.uvarint(), 'tagged field');
    }
  }

  /** Throws unless every byte was consumed. */
  done(what: string): void {
    if (this.pos !== this.end) {
      throw new ProtocolError('GH_PROTOCOL_TRAILING', `${what}: ${this.end - this.pos} bytes left after the message`);
    }
  }
}
