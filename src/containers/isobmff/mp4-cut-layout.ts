/**
 * Where the kept samples go in the cut's mdat and which source bytes fill it. Samples keep the source's
 * interleaving (tracks merged by file offset, each in its decode order), so a run of samples that was contiguous
 * in the source is one contiguous copy; a chunk (ISO/IEC 14496-12 8.7.4) is a run of one track's samples.
 */
import type { CutPlan } from "./mp4-cut-plan.ts"

/** One track's chunks in the cut: payload offsets (from the start of the mdat's data), sample counts, stsd index. */
export interface CutChunks {
  readonly offsets: Array<number>
  readonly sampleCounts: Array<number>
  readonly descriptions: Array<number>
}

export interface CutLayout {
  /** Bytes of media in the cut's mdat. */
  readonly payloadBytes: number
  /** Per plan track, in plan order. */
  readonly chunks: ReadonlyArray<CutChunks>
  /** Source byte ranges in output order, as [offset, length] pairs: `ranges[2k]`, `ranges[2k + 1]`. */
  readonly ranges: Float64Array
  readonly rangeCount: number
}

/** Lays out `plan`'s samples: O(kept samples x tracks), no sort. */
export const layoutCut = (plan: CutPlan): CutLayout => {
  const tracks = plan.tracks
  const next = tracks.map((t) => t.first)
  const chunks: Array<CutChunks> = tracks.map(() => ({ offsets: [], sampleCounts: [], descriptions: [] }))
  let total = 0
  for (const t of tracks) total += t.last - t.first + 1
  const ranges = new Float64Array(2 * total)
  let rangeCount = 0
  let sourceEnd = -1
  let position = 0
  let previousTrack = -1
  let previousDescription = -1
  for (let n = 0; n < total; n++) {
    // The track whose next sample comes first in the source file.
    let pick = -1
    let pickOffset = Infinity
    for (let k = 0; k < tracks.length; k++) {
      if (next[k]! > tracks[k]!.last) continue
      const offset = tracks[k]!.track.samples.offsets[next[k]!]!
      if (offset < pickOffset) {
        pick = k
        pickOffset = offset
      }
    }
    const samples = tracks[pick]!.track.samples
    const index = next[pick]!++
    const size = samples.sizes[index]!
    const description = samples.descriptions === undefined ? 1 : samples.descriptions[index]!
    const chunk = chunks[pick]!
    if (pick === previousTrack && description === previousDescription) {
      chunk.sampleCounts[chunk.sampleCounts.length - 1] += 1
    } else {
      chunk.offsets.push(position)
      chunk.sampleCounts.push(1)
      chunk.descriptions.push(description)
    }
    previousTrack = pick
    previousDescription = description
    if (pickOffset === sourceEnd && rangeCount > 0) ranges[2 * rangeCount - 1] += size
    else {
      ranges[2 * rangeCount] = pickOffset
      ranges[2 * rangeCount + 1] = size
      rangeCount++
    }
    sourceEnd = pickOffset + size
    position += size
  }
  return { payloadBytes: position, chunks, ranges, rangeCount }
}
