/**
 * What a recording has put in its data file (sample tables, where the media lies) and the header boxes built from
 * it: the movie of its edit lists, the moov of a reserved region and the ftyp + moov of a split header file. Shared
 * by finalize, the header updates while recording and crash recovery.
 */
import type { Track } from "../../media/frame.ts"
import type { DataLayout } from "./data-layout.ts"
import { planEdits } from "./edit-list.ts"
import { buildMoov, FTYP, type Movie, shiftChunkOffsets } from "./moov.ts"
import { maxChunkOffset } from "./sample-table-boxes.ts"
import type { SampleTable } from "./sample-table.ts"

const U32_MAX = 0xffff_ffff

export interface RecordedTrack {
  readonly track: Track
  readonly mediaTimescale: number
  readonly samples: SampleTable
  readonly presentationStart: number
  readonly startOffset: number | undefined
}

/** What a recording left in its temp data file. */
export interface RecordedMedia {
  readonly tmpPath: string
  readonly layout: DataLayout
  /** End of the last complete chunk in the data file. */
  readonly dataEnd: number
  /** Unix epoch milliseconds. */
  readonly creationTime: number
  readonly movieTimescale: number
  readonly tracks: ReadonlyArray<RecordedTrack>
}

/** The tracks that hold samples: a track never fed is left out of the file. */
export const recordedTracks = (media: RecordedMedia): ReadonlyArray<RecordedTrack> =>
  media.tracks.filter((t) => t.samples.sampleCount > 0)

/** The movie of `tracks` with their default edit lists (edit-list.ts). */
export const movieOf = (media: RecordedMedia, tracks: ReadonlyArray<RecordedTrack>): Movie => {
  const edits = planEdits(
    tracks.map((t) => ({
      presentationStart: t.presentationStart,
      startOffset: t.startOffset,
      firstCompositionOffset: t.samples.compositionOffset(0),
      presentationEnd: t.samples.presentationEnd(),
      mediaTimescale: t.mediaTimescale
    })),
    media.movieTimescale
  )
  return {
    creationTime: media.creationTime,
    timescale: media.movieTimescale,
    tracks: tracks.map((t, i) => ({
      track: t.track,
      mediaTimescale: t.mediaTimescale,
      samples: t.samples,
      edits: edits[i]!
    }))
  }
}

export const maxOffsetOf = (tracks: ReadonlyArray<RecordedTrack>): number =>
  Math.max(0, ...tracks.map((t) => maxChunkOffset(t.samples)))

/** Samples of all tracks. */
export const sampleCountOf = (tracks: ReadonlyArray<RecordedTrack>): number =>
  tracks.reduce((sum, t) => sum + t.samples.sampleCount, 0)

/** The moov for a reserved region: the data file is the final file, so chunk offsets stay as recorded. */
export const reservedMoov = (media: RecordedMedia, force = false): Uint8Array => {
  const tracks = recordedTracks(media)
  return buildMoov(movieOf(media, tracks), force || maxOffsetOf(tracks) > U32_MAX).writer.bytes
}

/**
 * The content of a split recording's header file: ftyp + moov whose chunk offsets point into the data file
 * appended right after it (`cat NAME.header NAME.tmp` is the file).
 */
export const splitHeader = (media: RecordedMedia): Uint8Array => {
  const tracks = recordedTracks(media)
  const movie = movieOf(media, tracks)
  const maxOffset = maxOffsetOf(tracks)
  let built = buildMoov(movie, false)
  let shift = FTYP.length + built.writer.length
  if (maxOffset + shift > U32_MAX) {
    built = buildMoov(movie, true)
    shift = FTYP.length + built.writer.length
  }
  shiftChunkOffsets(built, shift)
  const header = Buffer.allocUnsafe(FTYP.length + built.writer.length)
  header.set(FTYP, 0)
  header.set(built.writer.bytes, FTYP.length)
  return header
}
