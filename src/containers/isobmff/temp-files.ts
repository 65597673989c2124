/**
 * The on-disk layout of an MP4 recording in progress, chosen so that a crash leaves enough to rebuild a playable
 * file (`recoverMp4`). Two files, both append-only while recording:
 *
 * Data file (`tmpPath`):
 *   0   ftyp (32 bytes), exactly the final file's ftyp
 *   32  free (8 bytes)  } 16 bytes kept for the mdat header: finalized in place they become free + mdat with a
 *   40  mdat (8 bytes)  } 32-bit size, or one mdat header with a 64-bit largesize (ISO/IEC 14496-12 4.2, 8.1.1)
 *   48  media data: chunks, each the samples of one track in decode order (the interleave buffer of ~0.5 s)
 *
 * Journal (`tmpPath + ".idx"`), a sequence of records, each framed as
 *   u32 length of (type + payload) | u8 type | payload | u32 CRC-32 of (type + payload)     (big-endian)
 *   'H' header, first:  u8 version 1 | f64 creationTime (Unix ms) | u32 movie timescale
 *   'T' track, written before the track's first chunk:
 *       u16 track index | u8 kind (0 video, 1 audio) | u8 codec length | codec (latin1) | u32 timescale
 *       | u32 media timescale | u32 width | u32 height | u32 sampleRate | u16 channels
 *       | f64 presentation start (s, shared clock) | f64 start offset (s, NaN when none) | u32 config length | config
 *   'C' chunk, appended after the chunk's bytes reached the data file:
 *       u16 track index | f64 data-file offset | f64 decode time of its first sample (media ticks) | u32 count
 *       | count x (u32 size with bit 31 = sync sample | u32 decode time minus the first's | i32 composition offset)
 * A chunk batch is written to the data file first and to the journal second, so every journaled chunk was handed
 * to the OS before its record; recovery stops at the first torn or corrupt record, or at the first chunk that
 * reaches past the end of the data file.
 */
import { crc32 } from "node:zlib"
import type { Track } from "../../media/frame.ts"
import type { ByteWriter } from "./byte-writer.ts"
import { FTYP } from "./moov.ts"

/** Offset of the 16 bytes kept for the mdat header. */
export const MDAT_HEADER_AT = FTYP.length
/** Offset of the first media byte in the data file. */
export const DATA_START = MDAT_HEADER_AT + 16

export const journalPath = (tmpPath: string): string => `${tmpPath}.idx`

/** The first 48 bytes of the data file: ftyp, free, and an mdat whose size 0 means "to the end of the file". */
export const dataFileHeader = (): Buffer => {
  const header = Buffer.alloc(DATA_START)
  header.set(FTYP, 0)
  header.writeUInt32BE(8, MDAT_HEADER_AT)
  header.write("free", MDAT_HEADER_AT + 4, "latin1")
  header.writeUInt32BE(0, MDAT_HEADER_AT + 8)
  header.write("mdat", MDAT_HEADER_AT + 12, "latin1")
  return header
}

const JOURNAL_VERSION = 1
const HEADER = 0x48 // 'H'
const TRACK = 0x54 // 'T'
const CHUNK = 0x43 // 'C'
/** Bytes per sample in a chunk record. */
export const CHUNK_SAMPLE_BYTES = 12
export const SYNC_BIT = 0x8000_0000

export interface JournalHeader {
  readonly creationTime: number
  readonly movieTimescale: number
}

export interface JournalTrack {
  readonly index: number
  readonly track: Track
  readonly mediaTimescale: number
  readonly presentationStart: number
  readonly startOffset: number | undefined
}

export interface JournalChunk {
  readonly trackIndex: number
  readonly offset: number
  readonly baseDecodeTime: number
  readonly count: number
  /** `count` sample entries of CHUNK_SAMPLE_BYTES each. */
  readonly samples: Buffer
}

export type JournalRecord =
  | { readonly type: "header"; readonly header: JournalHeader }
  | { readonly type: "track"; readonly track: JournalTrack }
  | { readonly type: "chunk"; readonly chunk: JournalChunk }

const beginRecord = (w: ByteWriter, type: number): number => {
  const at = w.length
  w.u32(0).u8(type)
  return at
}

const endRecord = (w: ByteWriter, at: number): void => {
  w.patchU32(at, w.length - at - 4)
  w.u32(crc32(w.bytes.subarray(at + 4)))
}

export const writeHeaderRecord = (w: ByteWriter, header: JournalHeader): void => {
  const at = beginRecord(w, HEADER)
  w.u8(JOURNAL_VERSION).f64(header.creationTime).u32(header.movieTimescale)
  endRecord(w, at)
}

export const writeTrackRecord = (w: ByteWriter, t: JournalTrack): void => {
  const at = beginRecord(w, TRACK)
  const { track } = t
  const codec = Buffer.from(track.codec, "latin1")
  w.u16(t.index).u8(track.kind === "video" ? 0 : 1).u8(codec.length).bytesOf(codec)
  w.u32(track.timescale).u32(t.mediaTimescale)
  if (track.kind === "video") w.u32(track.width).u32(track.height).u32(0).u16(0)
  else w.u32(0).u32(0).u32(track.sampleRate).u16(track.channels)
  w.f64(t.presentationStart).f64(t.startOffset ?? NaN)
  w.u32(track.config.length).bytesOf(track.config)
  endRecord(w, at)
}

/** Starts a chunk record; the caller appends `count` sample entries, then calls `endChunkRecord`. */
export const beginChunkRecord = (
  w: ByteWriter,
  trackIndex: number,
  offset: number,
  baseDecodeTime: number,
  count: number
): number => {
  const at = beginRecord(w, CHUNK)
  w.u16(trackIndex).f64(offset).f64(baseDecodeTime).u32(count)
  return at
}

export const endChunkRecord = endRecord

const decodeTrack = (b: Buffer): JournalTrack => {
  let p = 0
  const index = b.readUInt16BE(p)
  const kind = b[p + 2]
  const codecLength = b[p + 3]!
  const codec = b.toString("latin1", p + 4, p + 4 + codecLength)
  p += 4 + codecLength
  const timescale = b.readUInt32BE(p)
  const mediaTimescale = b.readUInt32BE(p + 4)
  const width = b.readUInt32BE(p + 8)
  const height = b.readUInt32BE(p + 12)
  const sampleRate = b.readUInt32BE(p + 16)
  const channels = b.readUInt16BE(p + 20)
  const presentationStart = b.readDoubleBE(p + 22)
  const startOffset = b.readDoubleBE(p + 30)
  const configLength = b.readUInt32BE(p + 38)
  const config = Uint8Array.from(b.subarray(p + 42, p + 42 + configLength))
  const track: Track = kind === 0
    ? { kind: "video", codec: codec as "H264", timescale, width, height, config }
    : { kind: "audio", codec: codec as "AAC", timescale, sampleRate, channels, config }
  return {
    index,
    track,
    mediaTimescale,
    presentationStart,
    startOffset: Number.isNaN(startOffset) ? undefined : startOffset
  }
}

/**
 * Decodes journal records up to the first torn or corrupt one (a crash mid-write leaves at most that).
 * Throws nothing: a malformed tail just ends the list.
 */
export const readJournal = (bytes: Buffer): Array<JournalRecord> => {
  const records: Array<JournalRecord> = []
  let p = 0
  while (p + 9 <= bytes.length) {
    const length = bytes.readUInt32BE(p)
    if (length < 1 || p + 4 + length + 4 > bytes.length) break
    const body = bytes.subarray(p + 4, p + 4 + length)
    if (crc32(body) !== bytes.readUInt32BE(p + 4 + length)) break
    const type = body[0]
    const payload = body.subarray(1)
    if (type === HEADER) {
      if (payload[0] !== JOURNAL_VERSION) break
      const header = { creationTime: payload.readDoubleBE(1), movieTimescale: payload.readUInt32BE(9) }
      records.push({ type: "header", header })
    } else if (type === TRACK) {
      records.push({ type: "track", track: decodeTrack(payload) })
    } else if (type === CHUNK) {
      const count = payload.readUInt32BE(18)
      const samples = payload.subarray(22)
      if (samples.length !== count * CHUNK_SAMPLE_BYTES) break
      records.push({
        type: "chunk",
        chunk: {
          trackIndex: payload.readUInt16BE(0),
          offset: payload.readDoubleBE(2),
          baseDecodeTime: payload.readDoubleBE(10),
          count,
          samples
        }
      })
    } else {
      break
    }
    p += 4 + length + 4
  }
  return records
}
