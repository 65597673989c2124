/**
 * AMF0 encoding and decoding (Adobe "Action Message Format -- AMF 0", section 2), the value format of RTMP
 * commands and data messages. Plain functions over Buffers; a malformed value throws RtmpProtocolError.
 */
import { RtmpProtocolError } from "./protocol-error.ts"

/** AMF0 type markers (AMF0 spec 2.1). */
export const Amf0Marker = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  null: 0x05,
  undefined: 0x06,
  reference: 0x07,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c
} as const

/** An anonymous object (2.5): string keys in insertion order. */
export type Amf0Object = { [key: string]: Amf0Value }

/** An associative array (2.10); kept apart from Amf0Object so that encoding round-trips the marker. */
export class Amf0EcmaArray {
  readonly entries: Amf0Object
  constructor(entries: Amf0Object) {
    this.entries = entries
  }
}

/** A date (2.13): milliseconds since the Unix epoch, and a time zone the spec says to ignore. */
export class Amf0Date {
  readonly epochMillis: number
  readonly timezone: number
  constructor(epochMillis: number, timezone = 0) {
    this.epochMillis = epochMillis
    this.timezone = timezone
  }
}

export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Amf0Object
  | Amf0EcmaArray
  | Amf0Date
  | ReadonlyArray<Amf0Value>

const MAX_DEPTH = 64

class Amf0Reader {
  readonly buf: Buffer
  pos: number
  constructor(buf: Buffer, pos: number) {
    this.buf = buf
    this.pos = pos
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new RtmpProtocolError(`AMF0 decode error: truncated ${what} at offset ${this.pos}`)
    }
  }

  utf8(length: number): string {
    this.need(length, "string")
    const s = this.buf.toString("utf8", this.pos, this.pos + length)
    this.pos += length
    return s
  }

  shortString(): string {
    this.need(2, "string length")
    const length = this.buf.readUInt16BE(this.pos)
    this.pos += 2
    return this.utf8(length)
  }

  /** Reads key/value pairs up to the empty key followed by the object-end marker (2.5, 2.11). */
  properties(depth: number): Amf0Object {
    const out: Amf0Object = {}
    for (;;) {
      const key = this.shortString()
      if (key === "") {
        this.need(1, "object end")
        const marker = this.buf[this.pos++]
        if (marker !== Amf0Marker.objectEnd) {
          throw new RtmpProtocolError(`AMF0 decode error: expected object end, got marker ${marker}`)
        }
        return out
      }
      const value = this.value(depth + 1)
      // A "__proto__" key must stay data, not replace the object's prototype.
      if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true })
      else out[key] = value
    }
  }

  value(depth: number): Amf0Value {
    if (depth > MAX_DEPTH) throw new RtmpProtocolError("AMF0 decode error: nesting too deep")
    this.need(1, "type marker")
    const marker = this.buf[this.pos++]
    switch (marker) {
      case Amf0Marker.number: {
        this.need(8, "number")
        const n = this.buf.readDoubleBE(this.pos)
        this.pos += 8
        return n
      }
      case Amf0Marker.boolean:
        this.need(1, "boolean")
        return this.buf[this.pos++] !== 0
      case Amf0Marker.string:
        return this.shortString()
      case Amf0Marker.object:
        return this.properties(depth)
      case Amf0Marker.null:
        return null
      case Amf0Marker.undefined:
        return undefined
      case Amf0Marker.ecmaArray:
        // The associative count is only a hint (2.10); the entries end with the object-end marker.
        this.need(4, "ECMA array count")
        this.pos += 4
        return new Amf0EcmaArray(this.properties(depth))
      case Amf0Marker.strictArray: {
        this.need(4, "strict array count")
        const count = this.buf.readUInt32BE(this.pos)
        this.pos += 4
        // Every element takes at least one byte, so a count beyond the remaining bytes is malformed.
        if (count > this.buf.length - this.pos) {
          throw new RtmpProtocolError(`AMF0 decode error: strict array count ${count} exceeds the message`)
        }
        const items: Array<Amf0Value> = []
        for (let i = 0; i < count; i++) items.push(this.value(depth + 1))
        return items
      }
      case Amf0Marker.date: {
        this.need(10, "date")
        const ms = this.buf.readDoubleBE(this.pos)
        const tz = this.buf.readInt16BE(this.pos + 8)
        this.pos += 10
        return new Amf0Date(ms, tz)
      }
      case Amf0Marker.longString: {
        this.need(4, "long string length")
        const length = this.buf.readUInt32BE(this.pos)
        this.pos += 4
        return this.utf8(length)
      }
      default:
        throw new RtmpProtocolError(`AMF0 decode error: unsupported type marker ${marker} at offset ${this.pos - 1}`)
    }
  }
}

/** Decodes every value in `buf` (a command or data message body is a sequence of AMF0 values). */
export const decodeAmf0 = (buf: Buffer, offset = 0): Array<Amf0Value> => {
  const reader = new Amf0Reader(buf, offset)
  const values: Array<Amf0Value> = []
  while (reader.pos < buf.length) values.push(reader.value(0))
  return values
}

const isPlainObject = (value: Amf0Value): value is Amf0Object =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Amf0EcmaArray) &&
  !(value instanceof Amf0Date)

const stringBytes = (s: string): Buffer => Buffer.from(s, "utf8")

const keyBytes = (key: string): Array<Buffer> => {
  const bytes = stringBytes(key)
  if (bytes.length > 0xffff) throw new RtmpProtocolError(`AMF0 encode error: key longer than 65535 bytes`)
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  return [length, bytes]
}

const OBJECT_END = Buffer.from([0x00, 0x00, Amf0Marker.objectEnd])

const encodeProperties = (out: Array<Buffer>, entries: Amf0Object): void => {
  for (const key of Object.keys(entries)) {
    out.push(...keyBytes(key))
    encodeValue(out, entries[key])
  }
  out.push(OBJECT_END)
}

const encodeValue = (out: Array<Buffer>, value: Amf0Value): void => {
  if (value === null) {
    out.push(Buffer.from([Amf0Marker.null]))
  } else if (value === undefined) {
    out.push(Buffer.from([Amf0Marker.undefined]))
  } else if (typeof value === "number") {
    const b = Buffer.alloc(9)
    b[0] = Amf0Marker.number
    b.writeDoubleBE(value, 1)
    out.push(b)
  } else if (typeof value === "boolean") {
    out.push(Buffer.from([Amf0Marker.boolean, value ? 1 : 0]))
  } else if (typeof value === "string") {
    const bytes = stringBytes(value)
    if (bytes.length <= 0xffff) {
      const head = Buffer.alloc(3)
      head[0] = Amf0Marker.string
      head.writeUInt16BE(bytes.length, 1)
      out.push(head, bytes)
    } else {
      const head = Buffer.alloc(5)
      head[0] = Amf0Marker.longString
      head.writeUInt32BE(bytes.length, 1)
      out.push(head, bytes)
    }
  } else if (Array.isArray(value)) {
    const head = Buffer.alloc(5)
    head[0] = Amf0Marker.strictArray
    head.writeUInt32BE(value.length, 1)
    out.push(head)
    for (const item of value) encodeValue(out, item)
  } else if (value instanceof Amf0EcmaArray) {
    const head = Buffer.alloc(5)
    head[0] = Amf0Marker.ecmaArray
    head.writeUInt32BE(Object.keys(value.entries).length, 1)
    out.push(head)
    encodeProperties(out, value.entries)
  } else if (value instanceof Amf0Date) {
    const b = Buffer.alloc(11)
    b[0] = Amf0Marker.date
    b.writeDoubleBE(value.epochMillis, 1)
    b.writeInt16BE(value.timezone, 9)
    out.push(b)
  } else if (isPlainObject(value)) {
    out.push(Buffer.from([Amf0Marker.object]))
    encodeProperties(out, value)
  }
}

/** Encodes the values one after another, as a command or data message body. */
export const encodeAmf0 = (...values: ReadonlyArray<Amf0Value>): Buffer => {
  const out: Array<Buffer> = []
  for (const value of values) encodeValue(out, value)
  return Buffer.concat(out)
}

/** Reads a property of an AMF0 object or ECMA array, or undefined for anything else. */
export const amf0Property = (value: Amf0Value, key: string): Amf0Value => {
  if (value instanceof Amf0EcmaArray) return value.entries[key]
  if (value !== null && value !== undefined && isPlainObject(value)) return value[key]
  return undefined
}
