/**
 * Edit lists (ISO/IEC 14496-12 8.6.6): how each track's media maps onto the movie timeline. A track that starts
 * late gets an empty edit first; a track with B-frames skips its first composition offset so that presentation
 * starts at 0, as ffmpeg writes it.
 */

/** One elst entry. Durations are in the movie timescale, `mediaTime` in the track's media timescale. */
export type EditSegment =
  | { readonly kind: "empty"; readonly duration: number }
  | { readonly kind: "media"; readonly mediaTime: number; readonly duration: number }

/** What the planner needs to know about one track. */
export interface TrackTiming {
  /** Seconds, on the clock shared by the tracks' timestamps, at which the first sample is presented (its pts). */
  readonly presentationStart: number
  /** Seconds from the start of the file at which this track begins; overrides `presentationStart` when given. */
  readonly startOffset: number | undefined
  /** Composition offset of the first sample, media ticks (0 without B-frames). */
  readonly firstCompositionOffset: number
  /** Latest pts + duration over all samples, media ticks from the first decode time. */
  readonly presentationEnd: number
  readonly mediaTimescale: number
}

/**
 * The default edit list of every track. Tracks without an explicit `startOffset` are placed relative to the
 * earliest of them, so their A/V alignment on the shared clock is kept; the earliest starts at 0.
 */
export const planEdits = (
  tracks: ReadonlyArray<TrackTiming>,
  movieTimescale: number
): Array<ReadonlyArray<EditSegment>> => {
  let origin = Infinity
  for (const track of tracks) if (track.startOffset === undefined) origin = Math.min(origin, track.presentationStart)
  return tracks.map((track) => {
    const delay = track.startOffset ?? track.presentationStart - origin
    const mediaTime = Math.max(0, track.firstCompositionOffset)
    const mediaTicks = Math.max(0, track.presentationEnd - mediaTime)
    const media: EditSegment = {
      kind: "media",
      mediaTime,
      // Rounded up, as ffmpeg does, so the coarse movie timescale never cuts the end of the last sample.
      duration: Math.ceil((mediaTicks * movieTimescale) / track.mediaTimescale)
    }
    const empty = Math.round(delay * movieTimescale)
    return empty > 0 ? [{ kind: "empty", duration: empty }, media] : [media]
  })
}

/** The track's duration on the movie timeline (the tkhd duration): the sum of its edits. */
export const editedDuration = (edits: ReadonlyArray<EditSegment>): number => {
  let total = 0
  for (const edit of edits) total += edit.duration
  return total
}
