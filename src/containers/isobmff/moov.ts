/**
 * Builds the ftyp and moov boxes (ISO/IEC 14496-12 8.2-8.7) from sample tables and edit lists. Pure over its
 * input, so the same builder serves finalize, crash recovery and later a moov rewritten during recording.
 */
import type { Track } from "../../media/frame.ts"
import { ByteWriter } from "./byte-writer.ts"
import { editedDuration, type EditSegment } from "./edit-list.ts"
import { type AudioBitrates, writeAvc1, writeMp4a } from "./sample-entry.ts"
import type { SampleTable } from "./sample-table.ts"
import {
  type ChunkOffsetTable,
  writeChunkOffsets,
  writeCtts,
  writeStsc,
  writeStss,
  writeStsz,
  writeStts
} from "./sample-table-boxes.ts"

const U32_MAX = 0xffff_ffff
const I32_MAX = 0x7fff_ffff
/** Seconds from 1904-01-01 (the ISO base media epoch) to 1970-01-01. */
const EPOCH_1904_OFFSET = 2_082_844_800
/** 'und' as three 5-bit letters (ISO 639-2/T packed per 14496-12 8.4.2.3). */
const LANGUAGE_UNDETERMINED = 0x55c4
/** The unity matrix of 14496-12 8.2.2.3 in 16.16 / 2.30 fixed point. */
const UNITY_MATRIX = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]

export interface MovieTrack {
  readonly track: Track
  readonly mediaTimescale: number
  readonly samples: SampleTable
  readonly edits: ReadonlyArray<EditSegment>
}

export interface Movie {
  /** Unix epoch milliseconds. */
  readonly creationTime: number
  readonly timescale: number
  readonly tracks: ReadonlyArray<MovieTrack>
}

export interface BuiltMoov {
  readonly writer: ByteWriter
  readonly chunkOffsetTables: ReadonlyArray<ChunkOffsetTable>
}

/** ftyp (4.3): major brand isom, minor version 512, compatible isom/iso2/avc1/mp41, as ffmpeg writes for MP4. */
export const FTYP: Uint8Array = (() => {
  const w = new ByteWriter(32)
  const box = w.box("ftyp")
  w.fourcc("isom").u32(512).fourcc("isom").fourcc("iso2").fourcc("avc1").fourcc("mp41")
  w.end(box)
  return Uint8Array.from(w.bytes)
})()

/** Times in a box: 32-bit fields (version 0) unless some value needs 64 bits (version 1). */
const writeTime = (w: ByteWriter, wide: boolean, value: number) => (wide ? w.u64(value) : w.u32(value))

const writeMatrix = (w: ByteWriter) => {
  for (const value of UNITY_MATRIX) w.u32(value)
}

const audioBitrates = (table: SampleTable, mediaTimescale: number): AudioBitrates => {
  let maxSample = 0
  let maxWindow = 0
  let window = 0
  let windowEnd = mediaTimescale
  let decodeTime = 0
  for (let i = 0; i < table.sampleCount; i++) {
    const size = table.size(i)
    if (size > maxSample) maxSample = size
    if (decodeTime >= windowEnd) {
      if (window > maxWindow) maxWindow = window
      window = 0
      windowEnd = (Math.floor(decodeTime / mediaTimescale) + 1) * mediaTimescale
    }
    window += size
    decodeTime += table.duration(i)
  }
  maxWindow = Math.max(maxWindow, window)
  const seconds = table.mediaDuration / mediaTimescale
  const avgBitrate = seconds > 0 ? Math.round((table.bytes * 8) / seconds) : 0
  return { bufferSize: maxSample, maxBitrate: Math.max(avgBitrate, maxWindow * 8), avgBitrate }
}

const writeMvhd = (w: ByteWriter, movie: Movie, created: number, duration: number) => {
  const wide = created > U32_MAX || duration > U32_MAX
  const box = w.fullBox("mvhd", wide ? 1 : 0, 0)
  writeTime(w, wide, created)
  writeTime(w, wide, created)
  w.u32(movie.timescale)
  writeTime(w, wide, duration)
  w.u32(0x0001_0000).u16(0x0100).zeros(10) // rate 1.0, volume 1.0, reserved
  writeMatrix(w)
  w.zeros(24) // pre_defined
  w.u32(movie.tracks.length + 1) // next_track_ID
  w.end(box)
}

const writeTkhd = (w: ByteWriter, track: Track, trackId: number, created: number, duration: number) => {
  const wide = created > U32_MAX || duration > U32_MAX
  const box = w.fullBox("tkhd", wide ? 1 : 0, 0x000003) // track_enabled | track_in_movie
  writeTime(w, wide, created)
  writeTime(w, wide, created)
  w.u32(trackId).u32(0)
  writeTime(w, wide, duration)
  w.zeros(8).u16(0) // reserved, layer
  w.u16(track.kind === "audio" ? 1 : 0) // alternate_group: audio tracks are alternatives, as ffmpeg marks them
  w.u16(track.kind === "audio" ? 0x0100 : 0).u16(0) // volume, reserved
  writeMatrix(w)
  const [width, height] = track.kind === "video" ? [track.width, track.height] : [0, 0]
  w.u32(width * 0x10000).u32(height * 0x10000)
  w.end(box)
}

const writeEdts = (w: ByteWriter, edits: ReadonlyArray<EditSegment>) => {
  if (edits.length === 0) return
  const wide = edits.some((e) => e.duration > U32_MAX || (e.kind === "media" && e.mediaTime > I32_MAX))
  const edts = w.box("edts")
  const elst = w.fullBox("elst", wide ? 1 : 0, 0)
  w.u32(edits.length)
  for (const edit of edits) {
    writeTime(w, wide, edit.duration)
    const mediaTime = edit.kind === "empty" ? -1 : edit.mediaTime
    if (wide) w.i64(mediaTime)
    else w.i32(mediaTime)
    w.u16(1).u16(0) // media_rate 1.0
  }
  w.end(elst)
  w.end(edts)
}

const writeMdia = (w: ByteWriter, entry: MovieTrack, trackId: number, created: number, wideOffsets: boolean) => {
  const { track, samples, mediaTimescale } = entry
  const mdia = w.box("mdia")
  const duration = samples.mediaDuration
  const wide = created > U32_MAX || duration > U32_MAX
  const mdhd = w.fullBox("mdhd", wide ? 1 : 0, 0)
  writeTime(w, wide, created)
  writeTime(w, wide, created)
  w.u32(mediaTimescale)
  writeTime(w, wide, duration)
  w.u16(LANGUAGE_UNDETERMINED).u16(0)
  w.end(mdhd)
  const hdlr = w.fullBox("hdlr", 0, 0)
  w.u32(0).fourcc(track.kind === "video" ? "vide" : "soun").zeros(12)
  const handlerName = track.name ?? (track.kind === "video" ? "VideoHandler" : "SoundHandler")
  w.bytesOf(Buffer.from(`${handlerName}\0`, "utf8"))
  w.end(hdlr)
  const minf = w.box("minf")
  if (track.kind === "video") {
    const vmhd = w.fullBox("vmhd", 0, 1)
    w.zeros(8) // graphicsmode, opcolor
    w.end(vmhd)
  } else {
    const smhd = w.fullBox("smhd", 0, 0)
    w.zeros(4) // balance, reserved
    w.end(smhd)
  }
  const dinf = w.box("dinf")
  const dref = w.fullBox("dref", 0, 0)
  w.u32(1)
  w.end(w.fullBox("url ", 0, 1)) // media data in this file
  w.end(dref)
  w.end(dinf)
  const stbl = w.box("stbl")
  const stsd = w.fullBox("stsd", 0, 0)
  w.u32(1)
  if (track.kind === "video") writeAvc1(w, track)
  else writeMp4a(w, track, mediaTimescale, trackId, audioBitrates(samples, mediaTimescale))
  w.end(stsd)
  writeStts(w, samples)
  writeCtts(w, samples)
  writeStss(w, samples)
  writeStsc(w, samples)
  writeStsz(w, samples)
  const offsets = writeChunkOffsets(w, samples, wideOffsets)
  w.end(stbl)
  w.end(minf)
  w.end(mdia)
  return offsets
}

/**
 * The moov for `movie`, with chunk offsets as they are in the data file (shift them with `shiftChunkOffsets`
 * once the moov's own size fixes where the media lands). `wideOffsets` selects co64 over stco.
 */
export const buildMoov = (movie: Movie, wideOffsets: boolean): BuiltMoov => {
  let sampleCount = 0
  for (const t of movie.tracks) sampleCount += t.samples.sampleCount
  const w = new ByteWriter(4096 + sampleCount * 12)
  const created = Math.floor(movie.creationTime / 1000) + EPOCH_1904_OFFSET
  const durations = movie.tracks.map((t) => editedDuration(t.edits))
  const moov = w.box("moov")
  writeMvhd(w, movie, created, Math.max(0, ...durations))
  const chunkOffsetTables: Array<ChunkOffsetTable> = []
  movie.tracks.forEach((entry, index) => {
    const trackId = index + 1
    const trak = w.box("trak")
    writeTkhd(w, entry.track, trackId, created, durations[index]!)
    writeEdts(w, entry.edits)
    chunkOffsetTables.push(writeMdia(w, entry, trackId, created, wideOffsets))
    w.end(trak)
  })
  w.end(moov)
  return { writer: w, chunkOffsetTables }
}

/** Adds `shift` to every chunk offset of a built moov (the media moved by the size of what precedes it). */
export const shiftChunkOffsets = (built: BuiltMoov, shift: number): void => {
  if (shift === 0) return
  const w = built.writer
  for (const table of built.chunkOffsetTables) {
    for (let i = 0; i < table.count; i++) {
      if (table.wide) w.patchU64(table.at + i * 8, w.readU64(table.at + i * 8) + shift)
      else w.patchU32(table.at + i * 4, w.readU32(table.at + i * 4) + shift)
    }
  }
}
