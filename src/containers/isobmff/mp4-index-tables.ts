/**
 * Expands one track's run-length sample tables (ISO/IEC 14496-12 8.6.1.2 stts, 8.6.1.3 ctts, 8.6.2 stss,
 * 8.7.3 stsz/stz2, 8.7.4 stsc, 8.7.5 stco/co64) into flat per-sample arrays, so a time range maps to sample
 * indices and byte ranges by binary search. Pure; throws Mp4CutError("Malformed") on tables that do not add up.
 */
import { malformed } from "./mp4-cut-error.ts"

/** A track's samples in decode order: where each one lies in the file and when it is decoded and presented. */
export interface SampleIndex {
  readonly count: number
  /** File offset of each sample's first byte. */
  readonly offsets: Float64Array
  readonly sizes: Uint32Array
  /** Decode time of each sample, media ticks from the track's first (stts). */
  readonly dts: Float64Array
  /** Duration of the last sample (its stts delta); the others last until the next sample's dts. */
  readonly lastDuration: number
  /** pts minus dts of each sample (ctts), or undefined when the track has none. */
  readonly ctsOffsets: Int32Array | undefined
  /** The smallest composition offset (0 without ctts): no sample is presented before its dts plus this. */
  readonly minCtsOffset: number
  /** 0-based indices of the sync samples in increasing order, or undefined when every sample is one (no stss). */
  readonly syncSamples: Uint32Array | undefined
  /** 1-based sample description (stsd entry) of each sample, or undefined when all use the first. */
  readonly descriptions: Uint16Array | undefined
}

/** The raw payloads (after the FullBox header) of the stbl children that define the samples. */
export interface SampleTableBoxes {
  readonly stts: Buffer | undefined
  readonly ctts: Buffer | undefined
  readonly stss: Buffer | undefined
  readonly stsc: Buffer | undefined
  readonly stsz: Buffer | undefined
  readonly stz2: Buffer | undefined
  readonly stco: Buffer | undefined
  readonly co64: Buffer | undefined
}

/** The entry count of a table payload, checked against the bytes it has. */
const entries = (box: Buffer, name: string, entrySize: number, headerSize = 4): number => {
  if (box.length < headerSize) throw malformed(`${name} is truncated`)
  const count = box.readUInt32BE(headerSize - 4)
  if (headerSize + count * entrySize > box.length) throw malformed(`${name} declares ${count} entries it does not hold`)
  return count
}

const sampleSizes = (boxes: SampleTableBoxes): Uint32Array => {
  if (boxes.stsz !== undefined) {
    const box = boxes.stsz
    if (box.length < 8) throw malformed("stsz is truncated")
    const uniform = box.readUInt32BE(0)
    const count = box.readUInt32BE(4)
    if (uniform !== 0) return new Uint32Array(count).fill(uniform)
    entries(box, "stsz", 4, 8)
    const sizes = new Uint32Array(count)
    for (let i = 0; i < count; i++) sizes[i] = box.readUInt32BE(8 + 4 * i)
    return sizes
  }
  if (boxes.stz2 !== undefined) {
    // stz2 (8.7.3.3): reserved(24) field_size(8) sample_count(32), then 4, 8 or 16-bit sizes.
    const box = boxes.stz2
    if (box.length < 8) throw malformed("stz2 is truncated")
    const field = box[3]!
    const count = box.readUInt32BE(4)
    if (field !== 4 && field !== 8 && field !== 16) throw malformed(`stz2 field size ${field}`)
    if (8 + Math.ceil((count * field) / 8) > box.length) throw malformed("stz2 is truncated")
    const sizes = new Uint32Array(count)
    for (let i = 0; i < count; i++) {
      if (field === 16) sizes[i] = box.readUInt16BE(8 + 2 * i)
      else if (field === 8) sizes[i] = box[8 + i]!
      else sizes[i] = (box[8 + (i >> 1)]! >> ((i & 1) === 0 ? 4 : 0)) & 0x0f
    }
    return sizes
  }
  throw malformed("the sample table has no stsz")
}

const chunkOffsets = (boxes: SampleTableBoxes): Float64Array => {
  const wide = boxes.co64 !== undefined
  const box = boxes.co64 ?? boxes.stco
  if (box === undefined) throw malformed("the sample table has no stco or co64")
  const count = entries(box, wide ? "co64" : "stco", wide ? 8 : 4)
  const offsets = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    offsets[i] = wide ? Number(box.readBigUInt64BE(4 + 8 * i)) : box.readUInt32BE(4 + 4 * i)
  }
  return offsets
}

/** Decode times from stts runs; returns them with the last run's delta (the last sample's duration). */
const decodeTimes = (box: Buffer | undefined, count: number): { dts: Float64Array; lastDuration: number } => {
  if (box === undefined) throw malformed("the sample table has no stts")
  const runs = entries(box, "stts", 8)
  const dts = new Float64Array(count)
  let sample = 0
  let time = 0
  let delta = 0
  for (let r = 0; r < runs && sample < count; r++) {
    const run = box.readUInt32BE(4 + 8 * r)
    delta = box.readUInt32BE(8 + 8 * r)
    const end = Math.min(count, sample + run)
    for (; sample < end; sample++) {
      dts[sample] = time
      time += delta
    }
  }
  if (sample < count) throw malformed(`stts times ${sample} of ${count} samples`)
  return { dts, lastDuration: delta }
}

/** Composition offsets from ctts runs, read as signed (version 1, and what version 0 writers mean in practice). */
const compositionOffsets = (box: Buffer | undefined, count: number): Int32Array | undefined => {
  if (box === undefined) return undefined
  const runs = entries(box, "ctts", 8)
  const offsets = new Int32Array(count)
  let sample = 0
  for (let r = 0; r < runs && sample < count; r++) {
    const run = box.readUInt32BE(4 + 8 * r)
    const offset = box.readInt32BE(8 + 8 * r)
    const end = Math.min(count, sample + run)
    for (; sample < end; sample++) offsets[sample] = offset
  }
  return offsets
}

const syncSamples = (box: Buffer | undefined, count: number): Uint32Array | undefined => {
  if (box === undefined) return undefined
  const n = entries(box, "stss", 4)
  const sync = new Uint32Array(n)
  let kept = 0
  for (let i = 0; i < n; i++) {
    const number = box.readUInt32BE(4 + 4 * i)
    if (number >= 1 && number <= count && (kept === 0 || number - 1 > sync[kept - 1]!)) sync[kept++] = number - 1
  }
  return sync.subarray(0, kept)
}

/**
 * Every sample's file offset from stsc (which chunk holds how many samples) and the chunk offsets, plus the
 * sample description of each when a track uses several. A table that addresses fewer samples than stsz lists
 * leaves the rest out (the count shrinks); one whose chunks run past stsz stops at its last sample.
 */
const placeSamples = (box: Buffer | undefined, chunks: Float64Array, sizes: Uint32Array) => {
  if (box === undefined) throw malformed("the sample table has no stsc")
  const runs = entries(box, "stsc", 12)
  const count = sizes.length
  const offsets = new Float64Array(count)
  let descriptions: Uint16Array | undefined
  let sample = 0
  for (let r = 0; r < runs && sample < count; r++) {
    const first = box.readUInt32BE(4 + 12 * r) - 1
    const perChunk = box.readUInt32BE(8 + 12 * r)
    const description = box.readUInt32BE(12 + 12 * r)
    const next = r + 1 < runs ? box.readUInt32BE(4 + 12 * (r + 1)) - 1 : chunks.length
    if (description !== 1 && descriptions === undefined) descriptions = new Uint16Array(count).fill(1)
    for (let c = first; c < Math.min(next, chunks.length) && sample < count; c++) {
      let offset = chunks[c]!
      const end = Math.min(count, sample + perChunk)
      for (; sample < end; sample++) {
        offsets[sample] = offset
        offset += sizes[sample]!
        if (descriptions !== undefined) descriptions[sample] = description
      }
    }
  }
  return { placed: sample, offsets, descriptions }
}

/** The flat per-sample view of one track's sample table. */
export const expandSampleTables = (boxes: SampleTableBoxes): SampleIndex => {
  const allSizes = sampleSizes(boxes)
  const { placed, offsets, descriptions } = placeSamples(boxes.stsc, chunkOffsets(boxes), allSizes)
  const count = placed
  const { dts, lastDuration } = decodeTimes(boxes.stts, count)
  const ctsOffsets = compositionOffsets(boxes.ctts, count)
  let minCtsOffset = 0
  if (ctsOffsets !== undefined && count > 0) {
    minCtsOffset = ctsOffsets[0]!
    for (let i = 1; i < count; i++) if (ctsOffsets[i]! < minCtsOffset) minCtsOffset = ctsOffsets[i]!
  }
  return {
    count,
    offsets: offsets.subarray(0, count),
    sizes: allSizes.subarray(0, count),
    dts,
    lastDuration,
    ctsOffsets,
    minCtsOffset,
    syncSamples: syncSamples(boxes.stss, count),
    descriptions: descriptions?.subarray(0, count)
  }
}
