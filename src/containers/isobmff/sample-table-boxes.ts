/**
 * Serializes a SampleTable into the stbl child boxes (ISO/IEC 14496-12 8.6 and 8.7), run-length encoding
 * stts, ctts and stsc as the spec intends.
 */
import { type ByteWriter, putU32 } from "./byte-writer.ts"
import type { SampleTable } from "./sample-table.ts"

/** Where a chunk offset table sits in the built moov, so offsets can be shifted once the moov size is known. */
export interface ChunkOffsetTable {
  readonly at: number
  readonly count: number
  readonly wide: boolean
}

/** stts, 8.6.1.2: (sample_count, sample_delta) runs; the last sample repeats the previous delta. */
export const writeStts = (w: ByteWriter, table: SampleTable): void => {
  const box = w.fullBox("stts", 0, 0)
  const entries = table.sttsEntries
  w.u32(entries)
  const at = w.reserve(8 * entries)
  const raw = w.raw
  const n = table.sampleCount
  if (n === 1) {
    putU32(raw, at, 1)
    putU32(raw, at + 4, table.defaultDuration)
  } else if (n > 1) {
    const deltas = table.deltas
    let p = at
    let run = 1
    let delta = deltas.get(0)
    for (let i = 1; i < n - 1; i++) {
      const d = deltas.get(i)
      if (d === delta) {
        run++
        continue
      }
      putU32(raw, p, run)
      putU32(raw, p + 4, delta)
      p += 8
      delta = d
      run = 1
    }
    // The last sample takes the last delta again, so it joins the last run.
    putU32(raw, p, run + 1)
    putU32(raw, p + 4, delta)
  }
  w.end(box)
}

/** ctts, 8.6.1.3: version 0 holds unsigned offsets, version 1 signed ones; written only when some offset is not 0. */
export const writeCtts = (w: ByteWriter, table: SampleTable): void => {
  if (!table.nonZeroOffsets) return
  const box = w.fullBox("ctts", table.negativeOffsets ? 1 : 0, 0)
  const entries = table.cttsEntries
  w.u32(entries)
  const at = w.reserve(8 * entries)
  const raw = w.raw
  let p = at
  let run = 1
  let offset = table.compositionOffset(0)
  for (let i = 1; i < table.sampleCount; i++) {
    const o = table.compositionOffset(i)
    if (o === offset) {
      run++
      continue
    }
    putU32(raw, p, run)
    putU32(raw, p + 4, offset >>> 0)
    p += 8
    offset = o
    run = 1
  }
  putU32(raw, p, run)
  putU32(raw, p + 4, offset >>> 0)
  w.end(box)
}

/** stss, 8.6.2: 1-based sync sample numbers; absent when every sample is a sync sample. */
export const writeStss = (w: ByteWriter, table: SampleTable): void => {
  if (table.allSync || table.syncSamples.length === table.sampleCount) return
  const box = w.fullBox("stss", 0, 0)
  w.u32(table.syncSamples.length)
  for (let i = 0; i < table.syncSamples.length; i++) w.u32(table.syncSamples.get(i) + 1)
  w.end(box)
}

/** stsc, 8.7.4: a new entry whenever samples-per-chunk changes; one sample description. */
export const writeStsc = (w: ByteWriter, table: SampleTable): void => {
  const box = w.fullBox("stsc", 0, 0)
  const countAt = w.length
  w.u32(0)
  let entries = 0
  let previous = -1
  for (let c = 0; c < table.chunkCount; c++) {
    const samples = table.chunkSampleCounts.get(c)
    if (samples === previous) continue
    w.u32(c + 1).u32(samples).u32(1)
    entries++
    previous = samples
  }
  w.patchU32(countAt, entries)
  w.end(box)
}

/** stsz, 8.7.3.2: one size per sample, or a single size when all are equal. */
export const writeStsz = (w: ByteWriter, table: SampleTable): void => {
  const box = w.fullBox("stsz", 0, 0)
  const count = table.sampleCount
  const first = count > 0 ? table.size(0) : 0
  const uniformAt = w.length
  w.u32(first).u32(count)
  // One pass on the hot loop of a long table: write every size, then drop them if they all were equal.
  const at = w.reserve(4 * count)
  const raw = w.raw
  let uniform = first !== 0
  for (let i = 0; i < count; i++) {
    const size = table.size(i)
    if (size !== first) uniform = false
    putU32(raw, at + 4 * i, size)
  }
  if (uniform) w.truncate(at)
  else w.patchU32(uniformAt, 0)
  w.end(box)
}

/** stco or co64, 8.7.5: chunk offsets as they are in the data file (the moov builder shifts them later). */
export const writeChunkOffsets = (w: ByteWriter, table: SampleTable, wide: boolean): ChunkOffsetTable => {
  const box = w.fullBox(wide ? "co64" : "stco", 0, 0)
  w.u32(table.chunkCount)
  const at = w.length
  for (let c = 0; c < table.chunkCount; c++) {
    const offset = table.chunkOffsets.get(c)
    if (wide) w.u64(offset)
    else w.u32(offset)
  }
  w.end(box)
  return { at, count: table.chunkCount, wide }
}

/** The largest chunk offset of a table, to decide between stco and co64. */
export const maxChunkOffset = (table: SampleTable): number => {
  let max = 0
  for (let c = 0; c < table.chunkCount; c++) max = Math.max(max, table.chunkOffsets.get(c))
  return max
}
