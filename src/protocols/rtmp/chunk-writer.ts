/**
 * RTMP chunk stream encoder (Adobe RTMP 1.0, section 5.3): splits messages into chunks of the current chunk size
 * and compresses headers (fmt 1-3) against the previous message of the same chunk stream, as ffmpeg does.
 */
import type { RtmpMessage } from "./messages.ts"
import { DEFAULT_CHUNK_SIZE } from "./chunk-reader.ts"

const EXTENDED_TIMESTAMP = 0xffffff
const TWO_32 = 0x1_0000_0000

interface LastHeader {
  length: number
  typeId: number
  streamId: number
  /** Unwrapped timestamp of the last message, and the timestamp field its header carried. */
  timestamp: number
  timestampField: number
}

export interface ChunkWriterOptions {
  /** Write fmt 1-3 headers where the previous message allows (default true); false writes fmt 0 every time. */
  readonly compressHeaders?: boolean
  /** Repeat the extended timestamp on fmt 3 continuation chunks (default true, like ffmpeg and OBS). */
  readonly extendedTimestampOnContinuation?: boolean
}

const basicHeaderLength = (chunkStreamId: number): number => (chunkStreamId < 64 ? 1 : chunkStreamId < 320 ? 2 : 3)

const writeBasicHeader = (buf: Buffer, pos: number, fmt: number, chunkStreamId: number): number => {
  if (chunkStreamId < 64) {
    buf[pos] = (fmt << 6) | chunkStreamId
    return pos + 1
  }
  if (chunkStreamId < 320) {
    buf[pos] = fmt << 6
    buf[pos + 1] = chunkStreamId - 64
    return pos + 2
  }
  buf[pos] = (fmt << 6) | 1
  buf[pos + 1] = (chunkStreamId - 64) & 0xff
  buf[pos + 2] = (chunkStreamId - 64) >> 8
  return pos + 3
}

export class ChunkWriter {
  private readonly last = new Map<number, LastHeader>()
  private readonly compress: boolean
  private readonly extendedOnContinuation: boolean
  /** The chunk size we announced to the peer with Set Chunk Size (send that message before changing this). */
  chunkSize = DEFAULT_CHUNK_SIZE

  constructor(options: ChunkWriterOptions = {}) {
    this.compress = options.compressHeaders ?? true
    this.extendedOnContinuation = options.extendedTimestampOnContinuation ?? true
  }

  /** Encodes one message as its chunks, in one Buffer. */
  write(message: RtmpMessage): Buffer {
    const { chunkStreamId, payload } = message
    if (chunkStreamId < 2 || chunkStreamId > 65599) throw new RangeError(`chunk stream id ${chunkStreamId}`)
    if (payload.length > 0xffffff) throw new RangeError(`message length ${payload.length} exceeds 24 bits`)
    const prev = this.last.get(chunkStreamId)
    const delta = prev === undefined ? -1 : message.timestamp - prev.timestamp
    let fmt: number
    let timestampField: number
    if (!this.compress || prev === undefined || prev.streamId !== message.streamId || delta < 0 || delta >= TWO_32) {
      fmt = 0
      timestampField = message.timestamp % TWO_32
    } else {
      timestampField = delta
      if (prev.length !== payload.length || prev.typeId !== message.typeId) fmt = 1
      else if (prev.timestampField !== delta) fmt = 2
      else fmt = 3
    }
    this.last.set(chunkStreamId, {
      length: payload.length,
      typeId: message.typeId,
      streamId: message.streamId,
      timestamp: message.timestamp,
      timestampField
    })

    const extended = timestampField >= EXTENDED_TIMESTAMP
    const basic = basicHeaderLength(chunkStreamId)
    const chunks = Math.max(1, Math.ceil(payload.length / this.chunkSize))
    const firstHeader = basic + [11, 7, 3, 0][fmt] + (extended ? 4 : 0)
    const continuationHeader = basic + (extended && this.extendedOnContinuation ? 4 : 0)
    const out = Buffer.allocUnsafe(firstHeader + (chunks - 1) * continuationHeader + payload.length)

    let pos = writeBasicHeader(out, 0, fmt, chunkStreamId)
    if (fmt <= 2) {
      out.writeUIntBE(extended ? EXTENDED_TIMESTAMP : timestampField, pos, 3)
      pos += 3
    }
    if (fmt <= 1) {
      out.writeUIntBE(payload.length, pos, 3)
      out[pos + 3] = message.typeId
      pos += 4
    }
    if (fmt === 0) {
      out.writeUInt32LE(message.streamId, pos)
      pos += 4
    }
    if (extended) pos = out.writeUInt32BE(timestampField, pos)
    for (let offset = 0; offset < payload.length || offset === 0; offset += this.chunkSize) {
      if (offset > 0) {
        pos = writeBasicHeader(out, pos, 3, chunkStreamId)
        if (extended && this.extendedOnContinuation) pos = out.writeUInt32BE(timestampField, pos)
      }
      pos += payload.copy(out, pos, offset, Math.min(offset + this.chunkSize, payload.length))
      if (payload.length === 0) break
    }
    return out
  }
}
