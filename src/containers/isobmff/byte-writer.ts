/**
 * A growable big-endian byte buffer with box framing (ISO/IEC 14496-12 4.2: size, type, then the payload),
 * used to build ftyp/moov once per file; never on the per-packet path.
 */

const U32_LIMIT = 2 ** 32

/** Stores `value` as a big-endian u32 at `at` in `raw`: the inner loop of the sample table boxes. */
export const putU32 = (raw: Buffer, at: number, value: number): void => {
  raw[at] = value >>> 24
  raw[at + 1] = value >>> 16
  raw[at + 2] = value >>> 8
  raw[at + 3] = value
}

export class ByteWriter {
  #buffer: Buffer
  #length = 0

  constructor(initialCapacity = 4096) {
    this.#buffer = Buffer.allocUnsafe(initialCapacity)
  }

  get length(): number {
    return this.#length
  }

  /** Forgets the contents and keeps the capacity (for a reused scratch writer). */
  reset(): void {
    this.#length = 0
  }

  /** The bytes written so far (a view, not a copy). */
  get bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length)
  }

  /** Grows the buffer by `extra` bytes and returns where they start, for tight loops writing into `raw`. */
  reserve(extra: number): number {
    return this.#reserve(extra)
  }

  /** The underlying buffer, valid until the next call that grows the writer. */
  get raw(): Buffer {
    return this.#buffer
  }

  /** Drops everything from `length` on. */
  truncate(length: number): void {
    if (length < this.#length) this.#length = length
  }

  #reserve(extra: number): number {
    const at = this.#length
    const needed = at + extra
    if (needed > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2))
      this.#buffer.copy(grown, 0, 0, at)
      this.#buffer = grown
    }
    this.#length = needed
    return at
  }

  u8(value: number): this {
    const at = this.#reserve(1)
    this.#buffer[at] = value
    return this
  }

  u16(value: number): this {
    const at = this.#reserve(2)
    this.#buffer.writeUInt16BE(value, at)
    return this
  }

  i16(value: number): this {
    const at = this.#reserve(2)
    this.#buffer.writeInt16BE(value, at)
    return this
  }

  u24(value: number): this {
    const at = this.#reserve(3)
    this.#buffer.writeUIntBE(value, at, 3)
    return this
  }

  f64(value: number): this {
    const at = this.#reserve(8)
    this.#buffer.writeDoubleBE(value, at)
    return this
  }

  u32(value: number): this {
    const at = this.#reserve(4)
    this.#buffer.writeUInt32BE(value >>> 0, at)
    return this
  }

  i32(value: number): this {
    const at = this.#reserve(4)
    this.#buffer.writeInt32BE(value, at)
    return this
  }

  /** An unsigned 64-bit value given as a safe integer. */
  u64(value: number): this {
    const at = this.#reserve(8)
    this.#buffer.writeUInt32BE(Math.floor(value / U32_LIMIT), at)
    this.#buffer.writeUInt32BE(value % U32_LIMIT, at + 4)
    return this
  }

  /** A signed 64-bit value given as a safe integer (edit list media_time -1 means an empty edit). */
  i64(value: number): this {
    const at = this.#reserve(8)
    this.#buffer.writeBigInt64BE(BigInt(value), at)
    return this
  }

  fourcc(type: string): this {
    const at = this.#reserve(4)
    this.#buffer.write(type, at, 4, "latin1")
    return this
  }

  bytesOf(data: Uint8Array): this {
    const at = this.#reserve(data.length)
    this.#buffer.set(data, at)
    return this
  }

  zeros(count: number): this {
    const at = this.#reserve(count)
    this.#buffer.fill(0, at, this.#length)
    return this
  }

  /** Starts a box; returns its offset for `end`. */
  box(type: string): number {
    const at = this.#length
    this.u32(0).fourcc(type)
    return at
  }

  /** Starts a FullBox (a box with version and 24-bit flags, ISO/IEC 14496-12 4.2). */
  fullBox(type: string, version: number, flags: number): number {
    const at = this.box(type)
    this.u8(version).u24(flags)
    return at
  }

  /** Closes the box started at `at` by patching its 32-bit size. */
  end(at: number): void {
    this.#buffer.writeUInt32BE(this.#length - at, at)
  }

  readU32(at: number): number {
    return this.#buffer.readUInt32BE(at)
  }

  patchU32(at: number, value: number): void {
    this.#buffer.writeUInt32BE(value >>> 0, at)
  }

  readU64(at: number): number {
    return this.#buffer.readUInt32BE(at) * U32_LIMIT + this.#buffer.readUInt32BE(at + 4)
  }

  patchU64(at: number, value: number): void {
    this.#buffer.writeUInt32BE(Math.floor(value / U32_LIMIT), at)
    this.#buffer.writeUInt32BE(value % U32_LIMIT, at + 4)
  }
}
