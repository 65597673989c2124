/**
 * The journal of an MP4 recording in progress, chosen so that a crash leaves enough to rebuild a playable file
 * (`recoverMp4`). It sits next to the data file (whose layouts are in data-layout.ts) as `tmpPath + ".idx"`; both
 * are append-only while recording.
 *
 * Journal, a sequence of records, each framed as
 *   u32 length of (type + payload) | u8 type | payload | u32 CRC-32 of (type + payload)     (big-endian)
 *   'H' header, first:  u8 version 2 | f64 creationTime (Unix ms) | u32 movie timescale
 *       | u8 layout (0 plain, 1 reserved, 2 split) | u32 reserved bytes | u16 length | stream name (UTF-8)
 *   'T' track, written before the track's first chunk:
 *       u16 track index | u8 kind (0 video, 1 audio) | u8 codec length | codec (latin1) | u32 timescale
 *       | u32 media timescale | u32 width | u32 height | u32 sampleRate | u16 channels
 *       | f64 presentation start (s, shared clock) | f64 start offset (s, NaN when none) | u32 config length | config
 *   'C' chunk, appended after the chunk's bytes reached the data file:
 *       u16 track index | f64 data-file offset | f64 decode time of its first sample (media ticks) | u32 count
 *       | count x (u32 size with bit 31 = sync sample | u32 decode time minus the first's | i32 composition offset)
 *   'F' finalizing, appended when finalize starts writing the final file:  u16 length | final path (UTF-8)
 * A chunk batch is written to the data file first and to the journal second, so every journaled chunk was handed
 * to the OS before its record; recovery stops at the first torn or corrupt record, or at the first chunk that
 * reaches past the end of the data file. The 'F' record names the file a crash during finalize was writing: when
 * it exists, the recording was finished and its leftovers are only to be removed.
 */
import { crc32 } from "node:zlib"
import type { Track } from "../../media/frame.ts"
import type { ByteWriter } from "./byte-writer.ts"
import type { DataLayout } from "./data-layout.ts"
import type { SampleTable } from "./sample-table.ts"

export const journalPath = (tmpPath: string): string => `${tmpPath}.idx`

const JOURNAL_VERSION = 2
const HEADER = 0x48 // 'H'
const TRACK = 0x54 // 'T'
const CHUNK = 0x43 // 'C'
const FINALIZING = 0x46 // 'F'
/** Bytes per sample in a chunk record. */
export const CHUNK_SAMPLE_BYTES = 12
export const SYNC_BIT = 0x8000_0000

export interface JournalHeader {
  readonly creationTime: number
  readonly movieTimescale: number
  readonly layout: DataLayout
  /** The published stream, for the record hook of a recovered file; empty when unknown. */
  readonly streamName: string
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
  | { readonly type: "finalizing"; readonly finalPath: string }

const beginRecord = (w: ByteWriter, type: number): number => {
  const at = w.length
  w.u32(0).u8(type)
  return at
}

const endRecord = (w: ByteWriter, at: number): void => {
  w.patchU32(at, w.length - at - 4)
  w.u32(crc32(w.bytes.subarray(at + 4)))
}

const LAYOUTS = ["Plain", "Reserved", "Split"] as const

const writeText = (w: ByteWriter, text: string): void => {
  const bytes = Buffer.from(text, "utf8").subarray(0, 0xffff)
  w.u16(bytes.length).bytesOf(bytes)
}

export const writeHeaderRecord = (w: ByteWriter, header: JournalHeader): void => {
  const at = beginRecord(w, HEADER)
  const { layout } = header
  w.u8(JOURNAL_VERSION).f64(header.creationTime).u32(header.movieTimescale)
  w.u8(LAYOUTS.indexOf(layout._tag)).u32(layout._tag === "Reserved" ? layout.reservedBytes : 0)
  writeText(w, header.streamName)
  endRecord(w, at)
}

export const writeFinalizingRecord = (w: ByteWriter, finalPath: string): void => {
  const at = beginRecord(w, FINALIZING)
  writeText(w, finalPath)
  endRecord(w, at)
}

const decodeHeader = (b: Buffer): JournalHeader | undefined => {
  const tag = LAYOUTS[b[13]!]
  if (b[0] !== JOURNAL_VERSION || tag === undefined) return undefined
  const reservedBytes = b.readUInt32BE(14)
  const layout: DataLayout = tag === "Reserved" ? { _tag: tag, reservedBytes } : { _tag: tag }
  const nameLength = b.readUInt16BE(18)
  const streamName = b.toString("utf8", 20, 20 + nameLength)
  return { creationTime: b.readDoubleBE(1), movieTimescale: b.readUInt32BE(9), layout, streamName }
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

/** What a chunk record is written from: the track's table and its pending run of samples (track-recording.ts). */
export interface PendingChunk {
  readonly index: number
  readonly samples: SampleTable
  readonly pendingFirst: number
  readonly pendingCount: number
  readonly pendingBase: number
  readonly pendingSyncStart: number
}

/** The 'C' record of the pending samples of `track`, written at `offset`. */
export const writeChunkRecord = (w: ByteWriter, track: PendingChunk, offset: number): void => {
  const { samples } = track
  const first = track.pendingFirst
  const count = track.pendingCount
  const at = beginChunkRecord(w, track.index, offset, track.pendingBase, count)
  let sync = track.pendingSyncStart
  let decodeOffset = 0
  for (let i = first; i < first + count; i++) {
    if (i > first) decodeOffset += samples.deltas.get(i - 1)
    let isSync = samples.allSync
    if (!isSync && sync < samples.syncSamples.length && samples.syncSamples.get(sync) === i) {
      isSync = true
      sync++
    }
    w.u32((samples.size(i) | (isSync ? SYNC_BIT : 0)) >>> 0).u32(decodeOffset).i32(samples.compositionOffset(i))
  }
  endChunkRecord(w, at)
}

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
export const readJournal = (bytes: Buffer): Array<JournalRecord> => readJournalPrefix(bytes).records

/** The records up to the first torn or corrupt one, and the length of that intact prefix. */
export const readJournalPrefix = (bytes: Buffer): { records: Array<JournalRecord>; length: number } => {
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
      const header = payload.length >= 20 ? decodeHeader(payload) : undefined
      if (header === undefined) break
      records.push({ type: "header", header })
    } else if (type === FINALIZING) {
      records.push({ type: "finalizing", finalPath: payload.toString("utf8", 2, 2 + payload.readUInt16BE(0)) })
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
  return { records, length: p }
}
