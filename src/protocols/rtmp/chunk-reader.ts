/**
 * Incremental RTMP chunk stream decoder (Adobe RTMP 1.0, section 5.3): feed(bytes) returns the messages completed
 * by those bytes. Set Chunk Size and Abort (5.4.1, 5.4.2) are applied here, since they change how chunks parse.
 */
import { MessageType, type RtmpMessage } from "./messages.ts"
import { RtmpProtocolError } from "./protocol-error.ts"

/** The chunk size every stream starts with (5.4.1). */
export const DEFAULT_CHUNK_SIZE = 128
/** Default cap on one message: far above any real frame, far below what a hostile peer could make us buffer. */
export const DEFAULT_MAX_MESSAGE_LENGTH = 8 * 1024 * 1024

/** Basic header (3) + type 0 message header (11) + extended timestamp (4): the longest chunk header (5.3.1). */
const MAX_HEADER_LENGTH = 18
/** Message header length by fmt (5.3.1.2). */
const MESSAGE_HEADER_LENGTH = [11, 7, 3, 0] as const
/** A 24-bit timestamp field of all ones means "the real value is in the extended timestamp" (5.3.1.3). */
const EXTENDED_TIMESTAMP = 0xffffff
const TWO_32 = 0x1_0000_0000
const HALF_RANGE = 0x8000_0000

/** What the decoder remembers per chunk stream id, so that fmt 1-3 headers can leave fields out (5.3.1.2). */
interface ChunkStream {
  readonly id: number
  hasHeader: boolean
  length: number
  typeId: number
  streamId: number
  /** The last timestamp field (absolute after fmt 0, a delta after fmt 1/2); fmt 3 repeats it as the delta. */
  timestampField: number
  /** Whether the last fmt 0-2 header used the extended timestamp; fmt 3 chunks then carry one too. */
  extended: boolean
  /** The last message timestamp modulo 2^32, and the multiple of 2^32 it unwraps to. */
  timestamp32: number
  epoch: number
  /** The message being reassembled: its unwrapped timestamp and the chunk payloads so far. */
  timestamp: number
  parts: Array<Buffer> | undefined
  received: number
}

export interface ChunkReaderOptions {
  readonly maxMessageLength?: number
}

export class ChunkReader {
  private readonly maxMessageLength: number
  private readonly streams = new Map<number, ChunkStream>()
  private chunkSize = DEFAULT_CHUNK_SIZE
  /** The chunk whose payload is being read, and how many of its payload bytes are still to come. */
  private current: ChunkStream | undefined
  private chunkRemaining = 0
  /** The start of a chunk header that was split across reads (always shorter than MAX_HEADER_LENGTH). */
  private leftover: Buffer | undefined

  constructor(options: ChunkReaderOptions = {}) {
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH
  }

  /** The peer's current chunk size. */
  get peerChunkSize(): number {
    return this.chunkSize
  }

  /** True when no message or header is half-read, i.e. the peer may stop here without truncating anything. */
  get idle(): boolean {
    if (this.leftover !== undefined || this.current !== undefined) return false
    for (const stream of this.streams.values()) if (stream.parts !== undefined) return false
    return true
  }

  feed(bytes: Buffer): Array<RtmpMessage> {
    const out: Array<RtmpMessage> = []
    const input = bytes
    let pos = 0
    if (this.leftover !== undefined) {
      // Complete the split header from the head of the new bytes, without copying the rest of them.
      const head = Buffer.concat([this.leftover, bytes.subarray(0, MAX_HEADER_LENGTH - this.leftover.length)])
      const consumed = this.readHeader(head, 0)
      if (consumed < 0) {
        this.leftover = head
        return out
      }
      pos = consumed - this.leftover.length
      this.leftover = undefined
    }
    for (;;) {
      if (this.current === undefined) {
        if (pos >= input.length) break
        const consumed = this.readHeader(input, pos)
        if (consumed < 0) {
          this.leftover = Buffer.from(input.subarray(pos))
          break
        }
        pos += consumed
      }
      const stream = this.current!
      const n = Math.min(this.chunkRemaining, input.length - pos)
      if (n > 0) {
        stream.parts!.push(input.subarray(pos, pos + n))
        stream.received += n
        pos += n
        this.chunkRemaining -= n
      }
      if (this.chunkRemaining > 0) break
      this.current = undefined
      if (stream.received === stream.length) this.complete(stream, out)
    }
    return out
  }

  /** Parses one chunk header at `pos`; returns the bytes consumed, or -1 if more bytes are needed. */
  private readHeader(buf: Buffer, pos: number): number {
    const available = buf.length - pos
    if (available < 1) return -1
    const fmt = buf[pos] >> 6
    let id = buf[pos] & 0x3f
    let p = pos + 1
    // Basic header (5.3.1.1): ids 0 and 1 announce the 2- and 3-byte forms.
    if (id === 0) {
      if (available < 2) return -1
      id = buf[pos + 1] + 64
      p += 1
    } else if (id === 1) {
      if (available < 3) return -1
      id = buf[pos + 1] + buf[pos + 2] * 256 + 64
      p += 2
    }
    const headerLength = MESSAGE_HEADER_LENGTH[fmt]
    if (buf.length - p < headerLength) return -1

    let stream = this.streams.get(id)
    if (stream === undefined) {
      stream = {
        id,
        hasHeader: false,
        length: 0,
        typeId: 0,
        streamId: 0,
        timestampField: 0,
        extended: false,
        timestamp32: 0,
        epoch: 0,
        timestamp: 0,
        parts: undefined,
        received: 0
      }
      this.streams.set(id, stream)
    }
    if (fmt !== 0 && !stream.hasHeader) {
      throw new RtmpProtocolError(`chunk stream ${id}: fmt ${fmt} header without a preceding fmt 0 header`)
    }
    const continuation = stream.parts !== undefined
    if (fmt !== 3 && continuation) {
      throw new RtmpProtocolError(`chunk stream ${id}: fmt ${fmt} header before the previous message was complete`)
    }

    let timestampField = stream.timestampField
    let length = stream.length
    let typeId = stream.typeId
    let streamId = stream.streamId
    if (fmt <= 2) timestampField = buf.readUIntBE(p, 3)
    if (fmt <= 1) {
      length = buf.readUIntBE(p + 3, 3)
      typeId = buf[p + 6]
    }
    if (fmt === 0) streamId = buf.readUInt32LE(p + 7)
    p += headerLength

    const extended = fmt <= 2 ? timestampField === EXTENDED_TIMESTAMP : stream.extended
    if (extended) {
      if (buf.length - p < 4) return -1
      const value = buf.readUInt32BE(p)
      if (!continuation) {
        timestampField = value
        p += 4
      } else if (value === stream.timestampField) {
        // ffmpeg and OBS repeat the extended timestamp on fmt 3 continuation chunks (as 5.3.1.3 intends); some
        // older encoders do not. Only a repeat of the header's value is taken as one; anything else is payload.
        p += 4
      }
    }

    if (!continuation) {
      if (length > this.maxMessageLength) throw new RtmpProtocolError(`absurd message length ${length}`)
      stream.length = length
      stream.typeId = typeId
      stream.streamId = streamId
      if (fmt !== 3) stream.extended = extended
      stream.timestampField = timestampField
      stream.hasHeader = true
      // fmt 0 carries the absolute time; fmt 1-3 a delta (fmt 3 repeats the previous field, as ffmpeg does).
      const timestamp32 = fmt === 0 ? timestampField : (stream.timestamp32 + timestampField) % TWO_32
      if (timestamp32 < stream.timestamp32 && stream.timestamp32 - timestamp32 > HALF_RANGE) stream.epoch += TWO_32
      else if (timestamp32 > stream.timestamp32 && timestamp32 - stream.timestamp32 > HALF_RANGE && stream.epoch > 0) {
        stream.epoch -= TWO_32
      }
      stream.timestamp32 = timestamp32
      stream.timestamp = stream.epoch + timestamp32
      stream.parts = []
      stream.received = 0
    }
    this.current = stream
    this.chunkRemaining = Math.min(this.chunkSize, stream.length - stream.received)
    return p - pos
  }

  private complete(stream: ChunkStream, out: Array<RtmpMessage>): void {
    const parts = stream.parts!
    // The one copy of a payload: chunk slices point into socket reads, which must not be kept alive.
    const payload = Buffer.concat(parts, stream.length)
    stream.parts = undefined
    stream.received = 0
    if (stream.typeId === MessageType.setChunkSize) {
      if (payload.length < 4) throw new RtmpProtocolError("Set Chunk Size message shorter than 4 bytes")
      const size = payload.readUInt32BE(0) & 0x7fffffff
      if (size < 1) throw new RtmpProtocolError(`invalid chunk size ${size}`)
      this.chunkSize = size
      return
    }
    if (stream.typeId === MessageType.abort) {
      if (payload.length < 4) throw new RtmpProtocolError("Abort message shorter than 4 bytes")
      const aborted = this.streams.get(payload.readUInt32BE(0))
      if (aborted !== undefined) {
        aborted.parts = undefined
        aborted.received = 0
      }
      return
    }
    out.push({
      chunkStreamId: stream.id,
      typeId: stream.typeId,
      streamId: stream.streamId,
      timestamp: stream.timestamp,
      payload
    })
  }
}
