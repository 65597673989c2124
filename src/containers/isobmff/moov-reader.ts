/**
 * Reads back what a moov written while recording references (ISO/IEC 14496-12 8.2.2 mvhd, 8.7.3 stsz, 8.7.4 stsc,
 * 8.7.5 stco/co64): its sample count, duration and the byte ranges of its chunks, so crash recovery can tell how
 * much a header written on the fly covers and whether those bytes are on disk. Throws on malformed input (callers
 * wrap it in Effect.try).
 */

export interface MoovSummary {
  readonly durationSeconds: number
  /** Samples per track, in trak order. */
  readonly trackSamples: ReadonlyArray<number>
  readonly samples: number
  /** Lowest chunk offset, and the end of the furthest chunk (offset + its samples' sizes). */
  readonly dataBegin: number
  readonly dataEnd: number
}

interface Box {
  readonly type: string
  /** Payload start and box end. */
  readonly start: number
  readonly end: number
}

/** The child boxes of `[start, end)`. */
const boxesIn = (b: Buffer, start: number, end: number): Array<Box> => {
  const boxes: Array<Box> = []
  let p = start
  while (p + 8 <= end) {
    let size = b.readUInt32BE(p)
    let header = 8
    if (size === 1) {
      size = Number(b.readBigUInt64BE(p + 8))
      header = 16
    } else if (size === 0) size = end - p
    if (size < header || p + size > end) throw new Error(`box at ${p} overruns its parent`)
    boxes.push({ type: b.toString("latin1", p + 4, p + 8), start: p + header, end: p + size })
    p += size
  }
  return boxes
}

const child = (b: Buffer, parent: Box, type: string): Box => {
  const found = boxesIn(b, parent.start, parent.end).find((box) => box.type === type)
  if (found === undefined) throw new Error(`no ${type} in ${parent.type}`)
  return found
}

const entryCount = (b: Buffer, at: number, entryBytes: number, end: number): number => {
  const count = b.readUInt32BE(at)
  if (at + 4 + count * entryBytes > end) throw new Error(`table of ${count} entries overruns its box`)
  return count
}

interface TrackRanges {
  readonly samples: number
  readonly begin: number
  readonly end: number
}

const trackRanges = (b: Buffer, trak: Box): TrackRanges => {
  const stbl = child(b, child(b, child(b, trak, "mdia"), "minf"), "stbl")
  const tables = boxesIn(b, stbl.start, stbl.end)
  const find = (type: string) => tables.find((box) => box.type === type)
  const stsz = find("stsz")
  const stsc = find("stsc")
  const offsets = find("stco") ?? find("co64")
  if (stsz === undefined || stsc === undefined || offsets === undefined) throw new Error("incomplete sample table")
  const uniform = b.readUInt32BE(stsz.start + 4)
  const samples = b.readUInt32BE(stsz.start + 8)
  if (uniform === 0 && stsz.start + 12 + samples * 4 > stsz.end) throw new Error("stsz overruns its box")
  const size = (i: number) => (uniform !== 0 ? uniform : b.readUInt32BE(stsz.start + 12 + i * 4))
  const wide = offsets.type === "co64"
  const chunks = entryCount(b, offsets.start + 4, wide ? 8 : 4, offsets.end)
  const offset = (c: number) =>
    wide ? Number(b.readBigUInt64BE(offsets.start + 8 + c * 8)) : b.readUInt32BE(offsets.start + 8 + c * 4)
  const runs = entryCount(b, stsc.start + 4, 12, stsc.end)
  let begin = Infinity
  let end = 0
  let sample = 0
  for (let r = 0; r < runs; r++) {
    const at = stsc.start + 8 + r * 12
    const firstChunk = b.readUInt32BE(at) - 1
    const perChunk = b.readUInt32BE(at + 4)
    const lastChunk = r + 1 < runs ? b.readUInt32BE(at + 12) - 1 : chunks
    for (let c = firstChunk; c < lastChunk && c < chunks; c++) {
      let bytes = 0
      for (let i = 0; i < perChunk && sample < samples; i++) bytes += size(sample++)
      begin = Math.min(begin, offset(c))
      end = Math.max(end, offset(c) + bytes)
    }
  }
  if (sample !== samples) throw new Error(`chunks hold ${sample} of ${samples} samples`)
  return { samples, begin, end }
}

/** Summarizes the moov box whose bytes are `moov` (box header included). */
export const readMoov = (moov: Buffer): MoovSummary => {
  const [root] = boxesIn(moov, 0, moov.length)
  if (root === undefined || root.type !== "moov") throw new Error("not a moov box")
  const mvhd = child(moov, root, "mvhd")
  const v1 = moov[mvhd.start] === 1
  const timescale = moov.readUInt32BE(mvhd.start + (v1 ? 20 : 12))
  const duration = v1 ? Number(moov.readBigUInt64BE(mvhd.start + 24)) : moov.readUInt32BE(mvhd.start + 16)
  const tracks = boxesIn(moov, root.start, root.end).filter((box) => box.type === "trak").map((t) =>
    trackRanges(moov, t)
  )
  if (tracks.length === 0) throw new Error("a moov without tracks")
  return {
    durationSeconds: timescale > 0 ? duration / timescale : 0,
    trackSamples: tracks.map((t) => t.samples),
    samples: tracks.reduce((sum, t) => sum + t.samples, 0),
    dataBegin: Math.min(...tracks.map((t) => t.begin)),
    dataEnd: Math.max(...tracks.map((t) => t.end))
  }
}
