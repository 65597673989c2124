/**
 * An upper bound of the size of the moov a recording would get now, from counters kept per sample, so a reserved
 * header (mp4_container_moov_reserved_space_size) can ask for rotation before the moov outgrows it without building
 * the moov on every frame. Box sizes follow ISO/IEC 14496-12 8.6.1.2-8.7.5.
 */
import type { Track } from "../../media/frame.ts"
import { buildMoov, type Movie } from "./moov.ts"
import { SampleTable } from "./sample-table.ts"

/** Per track, what a growing recording can add to the fixed boxes: a ctts and an stss box header, version 1 times
 * in tkhd and mdhd (8 bytes each more), and an edit list of an empty edit and a media edit in version 1. */
const TRACK_SLACK = 16 + 16 + 2 * 12 + (8 + 16 + 2 * 20)
/** mvhd in version 1 (64-bit times). */
const MOVIE_SLACK = 12

export interface TableCounters {
  readonly samples: SampleTable
}

/**
 * The moov of `tracks` with empty sample tables and no edits: every box whose size does not depend on the samples
 * (mvhd, tkhd, mdhd, hdlr, the sample entries with their decoder configuration, the empty table boxes).
 */
export const fixedMoovBytes = (tracks: ReadonlyArray<Track>): number => {
  const movie: Movie = {
    creationTime: 0,
    timescale: 1000,
    tracks: tracks.map((track) => ({
      track,
      mediaTimescale: 1000,
      samples: new SampleTable(track.kind === "audio", 1),
      edits: []
    }))
  }
  return buildMoov(movie, true).writer.length + MOVIE_SLACK + tracks.length * TRACK_SLACK
}

/**
 * Bytes one track's tables add to the fixed part, at most: 8 per stts and ctts entry, 4 per sync sample and per
 * sample size, 12 per stsc entry (at most one per chunk) and 8 per chunk offset (co64), counting one more chunk
 * for the samples not yet written.
 */
export const tableBytesBound = (samples: SampleTable): number => {
  if (samples.sampleCount === 0) return 0
  const chunks = samples.chunkCount + 1
  const sync = samples.allSync ? 0 : samples.syncSamples.length
  return 8 * samples.sttsEntries + 8 * samples.cttsEntries + 4 * sync + 4 * samples.sampleCount + 20 * chunks
}

/** The worst a single sample adds (a new stts, ctts and stss entry, a size, a new chunk): for safety margins. */
export const SAMPLE_BYTES_BOUND = 8 + 8 + 4 + 4 + 20

/** The moov size bound for tables over `fixed` bytes of sample-independent boxes. */
export const moovBytesBound = (fixed: number, tables: ReadonlyArray<TableCounters>): number => {
  let bytes = fixed
  for (const t of tables) bytes += tableBytesBound(t.samples)
  return bytes
}
