/**
 * The cut's moov (ISO/IEC 14496-12 8.2-8.7): the source's mvhd, tkhd, mdhd, hdlr, media headers and stsd carried
 * over byte for byte (durations rewritten), with new edit lists and sample tables for the kept samples. Chunk
 * offsets are written relative to the mdat's data and shifted once the moov's own size is known.
 */
import { ByteWriter } from "./byte-writer.ts"
import type { EditSegment } from "./edit-list.ts"
import type { CutChunks } from "./mp4-cut-layout.ts"
import type { CutPlan, CutTrackPlan } from "./mp4-cut-plan.ts"

const U32_MAX = 0xffff_ffff
const I32_MAX = 0x7fff_ffff

/** Where the duration field of each header box starts, from the box's first byte, by version (8.2.2, 8.3.2, 8.4.2). */
const DURATION_AT = {
  mvhd: { v0: 24, v1: 32 }, // box header, version+flags, creation, modification, timescale
  mdhd: { v0: 24, v1: 32 },
  tkhd: { v0: 28, v1: 36 } // box header, version+flags, creation, modification, track_ID, reserved
} as const

/**
 * `box` (an mvhd, mdhd or tkhd) with its duration set. A version 0 box whose new duration needs 64 bits is
 * rewritten as version 1 (its two times widened, everything after the duration kept).
 */
export const withDuration = (box: Uint8Array, kind: keyof typeof DURATION_AT, duration: number): Uint8Array => {
  const source = Buffer.from(box.buffer, box.byteOffset, box.byteLength)
  const v1 = source[8] === 1
  const at = v1 ? DURATION_AT[kind].v1 : DURATION_AT[kind].v0
  if (v1 || duration <= U32_MAX) {
    const out = Buffer.from(source)
    if (v1) {
      out.writeUInt32BE(Math.floor(duration / 2 ** 32), at)
      out.writeUInt32BE(duration % 2 ** 32, at + 4)
    } else out.writeUInt32BE(duration, at)
    return out
  }
  const w = new ByteWriter(source.length + 12)
  const start = w.box(source.toString("latin1", 4, 8))
  w.u8(1).bytesOf(source.subarray(9, 12))
  w.u64(source.readUInt32BE(12)).u64(source.readUInt32BE(16))
  w.bytesOf(source.subarray(20, at)) // timescale, or track_ID and reserved
  w.u64(duration)
  w.bytesOf(source.subarray(at + 4))
  w.end(start)
  return Uint8Array.from(w.bytes)
}

const writeElst = (w: ByteWriter, edits: ReadonlyArray<EditSegment>) => {
  const wide = edits.some((e) => e.duration > U32_MAX || (e.kind === "media" && e.mediaTime > I32_MAX))
  const edts = w.box("edts")
  const elst = w.fullBox("elst", wide ? 1 : 0, 0)
  w.u32(edits.length)
  for (const edit of edits) {
    const mediaTime = edit.kind === "empty" ? -1 : edit.mediaTime
    if (wide) w.u64(edit.duration).i64(mediaTime)
    else w.u32(edit.duration).i32(mediaTime)
    w.u16(1).u16(0) // media_rate 1.0
  }
  w.end(elst)
  w.end(edts)
}

/** stts (8.6.1.2), ctts (8.6.1.3) and stss (8.6.2) of the kept samples, rebased to the first one. */
const writeTimes = (w: ByteWriter, plan: CutTrackPlan) => {
  const s = plan.track.samples
  const duration = (i: number) => (i + 1 < s.count ? s.dts[i + 1]! - s.dts[i]! : s.lastDuration)
  const runs = (type: string, version: number, value: (i: number) => number, signed: boolean) => {
    const box = w.fullBox(type, version, 0)
    const countAt = w.length
    w.u32(0)
    let entries = 0
    let run = 0
    let current = 0
    for (let i = plan.first; i <= plan.last; i++) {
      const v = value(i)
      if (run > 0 && v === current) {
        run++
        continue
      }
      if (run > 0) {
        w.u32(run)
        if (signed) w.i32(current)
        else w.u32(current)
        entries++
      }
      current = v
      run = 1
    }
    w.u32(run)
    if (signed) w.i32(current)
    else w.u32(current)
    w.patchU32(countAt, entries + 1)
    w.end(box)
  }
  runs("stts", 0, duration, false)
  const cts = s.ctsOffsets
  if (cts !== undefined) {
    let negative = false
    for (let i = plan.first; i <= plan.last; i++) negative ||= cts[i]! < 0
    runs("ctts", negative ? 1 : 0, (i) => cts[i]!, true)
  }
  const sync = s.syncSamples
  if (sync !== undefined) {
    const box = w.fullBox("stss", 0, 0)
    const countAt = w.length
    w.u32(0)
    let count = 0
    // Sync samples are sorted: skip to the first kept one by binary search.
    let lo = 0
    let hi = sync.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sync[mid]! < plan.first) lo = mid + 1
      else hi = mid
    }
    for (let k = lo; k < sync.length && sync[k]! <= plan.last; k++, count++) w.u32(sync[k]! - plan.first + 1)
    w.patchU32(countAt, count)
    w.end(box)
  }
}

/** stsz (8.7.3.2): one size per kept sample. */
const writeStsz = (w: ByteWriter, plan: CutTrackPlan) => {
  const sizes = plan.track.samples.sizes
  const box = w.fullBox("stsz", 0, 0)
  w.u32(0).u32(plan.last - plan.first + 1)
  for (let i = plan.first; i <= plan.last; i++) w.u32(sizes[i]!)
  w.end(box)
}

/** stsc (8.7.4) and stco/co64 (8.7.5); returns where the offsets were written, for the shift. */
const writeChunks = (w: ByteWriter, chunks: CutChunks, wide: boolean): number => {
  const stsc = w.fullBox("stsc", 0, 0)
  const countAt = w.length
  w.u32(0)
  let entries = 0
  let previousCount = -1
  let previousDescription = -1
  for (let c = 0; c < chunks.offsets.length; c++) {
    const count = chunks.sampleCounts[c]!
    const description = chunks.descriptions[c]!
    if (count === previousCount && description === previousDescription) continue
    w.u32(c + 1).u32(count).u32(description)
    entries++
    previousCount = count
    previousDescription = description
  }
  w.patchU32(countAt, entries)
  w.end(stsc)
  const box = w.fullBox(wide ? "co64" : "stco", 0, 0)
  w.u32(chunks.offsets.length)
  const at = w.length
  for (const offset of chunks.offsets) {
    if (wide) w.u64(offset)
    else w.u32(offset)
  }
  w.end(box)
  return at
}

export interface CutMoov {
  readonly bytes: Uint8Array
  readonly wideOffsets: boolean
}

const build = (plan: CutPlan, chunks: ReadonlyArray<CutChunks>, mvhd: Uint8Array, wide: boolean) => {
  let samples = 0
  for (const t of plan.tracks) samples += t.last - t.first + 1
  const w = new ByteWriter(8192 + samples * 16)
  const tables: Array<{ at: number; count: number }> = []
  const moov = w.box("moov")
  w.bytesOf(withDuration(mvhd, "mvhd", plan.duration))
  plan.tracks.forEach((t, k) => {
    const trak = w.box("trak")
    w.bytesOf(withDuration(t.track.tkhd, "tkhd", t.duration))
    writeElst(w, t.edits)
    const mdia = w.box("mdia")
    w.bytesOf(withDuration(t.track.mdhd, "mdhd", t.mediaDuration))
    w.bytesOf(t.track.hdlr)
    const minf = w.box("minf")
    for (const header of t.track.mediaHeaders) w.bytesOf(header)
    const stbl = w.box("stbl")
    w.bytesOf(t.track.stsd)
    writeTimes(w, t)
    writeStsz(w, t)
    tables.push({ at: writeChunks(w, chunks[k]!, wide), count: chunks[k]!.offsets.length })
    w.end(stbl)
    w.end(minf)
    w.end(mdia)
    w.end(trak)
  })
  w.end(moov)
  return { w, tables }
}

/**
 * The moov of the cut, for a file laid out as `head` bytes (ftyp), this moov, an mdat header of `mdatHeaderBytes`
 * and `payloadBytes` of media: co64 only when some chunk offset would not fit 32 bits.
 */
export const buildCutMoov = (
  plan: CutPlan,
  chunks: ReadonlyArray<CutChunks>,
  mvhd: Uint8Array,
  head: number,
  mdatHeaderBytes: number,
  payloadBytes: number
): CutMoov => {
  let wide = false
  let built = build(plan, chunks, mvhd, wide)
  if (head + built.w.length + mdatHeaderBytes + payloadBytes > U32_MAX) {
    wide = true
    built = build(plan, chunks, mvhd, wide)
  }
  const shift = head + built.w.length + mdatHeaderBytes
  for (const table of built.tables) {
    for (let c = 0; c < table.count; c++) {
      if (wide) built.w.patchU64(table.at + 8 * c, built.w.readU64(table.at + 8 * c) + shift)
      else built.w.patchU32(table.at + 4 * c, built.w.readU32(table.at + 4 * c) + shift)
    }
  }
  return { bytes: built.w.bytes, wideOffsets: wide }
}
