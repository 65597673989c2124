/**
 * Which samples of each track a time-range cut keeps, and the edit lists (ISO/IEC 14496-12 8.6.6) that put them
 * back on a timeline starting at 0. Manual, "Downloading and playing a certain part of a recording file": the cut
 * starts at the reference track's sync sample at or before `start` (the first video track, else the first audio
 * track, whose every frame is one), so playback may begin slightly early; it ends with the last frame presented
 * before `end`. Pure over the index: binary searches plus work proportional to the samples kept.
 */
import type { EditSegment } from "./edit-list.ts"
import { Mp4CutError } from "./mp4-cut-error.ts"
import type { Mp4Movie, Mp4TrackIndex } from "./mp4-index-moov.ts"

/** Slack for comparing seconds computed from different timescales: far below any tick in use. */
const EPSILON = 1e-7
/**
 * Audio frames kept before the first one presented, hidden by the edit list: an AAC frame decodes correctly only
 * after the one before it (its MDCT overlaps; 14496-12 10.1 'roll' distance -1, as ffmpeg marks AAC).
 */
const AUDIO_PRE_ROLL = 1

export interface CutRange {
  /** Seconds on the source's movie timeline; absent: from the beginning. */
  readonly start?: number | undefined
  /** Seconds on the source's movie timeline; absent: to the end. */
  readonly end?: number | undefined
}

export interface CutTrackPlan {
  readonly track: Mp4TrackIndex
  /** First and last (inclusive) kept samples, in decode order. */
  readonly first: number
  readonly last: number
  /** The output edit list: an empty edit when the track starts after the cut, then its media. */
  readonly edits: ReadonlyArray<EditSegment>
  /** Sum of the kept samples' durations, media ticks (the mdhd duration). */
  readonly mediaDuration: number
  /** Sum of the edits, movie ticks (the tkhd duration). */
  readonly duration: number
}

export interface CutPlan {
  readonly movieTimescale: number
  /** Source movie time, seconds, that becomes 0 in the cut: the chosen keyframe's time (or `start` before it). */
  readonly startSeconds: number
  /** Source movie time, seconds, where the cut ends: `end`, or the end of the media. */
  readonly endSeconds: number
  /** The cut's duration on its movie timeline, movie ticks (the mvhd duration). */
  readonly duration: number
  readonly tracks: ReadonlyArray<CutTrackPlan>
}

/** Where a track's media sits on the movie timeline: its first media edit after any empty ones. */
interface Timeline {
  /** Seconds of empty edits before the media. */
  readonly delay: number
  /** Media ticks presented at `delay`. */
  readonly mediaTime: number
  /** Seconds at which the edit list stops presenting the track (Infinity without a bound). */
  readonly end: number
}

const timelineOf = (track: Mp4TrackIndex, movieTimescale: number): Timeline => {
  let delay = 0
  let i = 0
  while (i < track.edits.length && track.edits[i]!.mediaTime === -1) delay += track.edits[i++]!.duration
  const media = track.edits[i]
  if (media === undefined) return { delay: delay / movieTimescale, mediaTime: 0, end: Infinity }
  let total = delay
  for (let j = i; j < track.edits.length; j++) total += track.edits[j]!.duration
  const bounded = media.duration > 0
  return { delay: delay / movieTimescale, mediaTime: media.mediaTime, end: bounded ? total / movieTimescale : Infinity }
}

/** Per-track arithmetic between sample indices and source movie seconds. */
class TrackTimes {
  readonly track: Mp4TrackIndex
  readonly timeline: Timeline
  readonly #ts: number

  constructor(track: Mp4TrackIndex, movieTimescale: number) {
    this.track = track
    this.timeline = timelineOf(track, movieTimescale)
    this.#ts = track.timescale
  }

  /** Presentation time of sample `i` on the source movie timeline, seconds. */
  pts(i: number): number {
    const s = this.track.samples
    const cts = s.ctsOffsets === undefined ? 0 : s.ctsOffsets[i]!
    return this.timeline.delay + (s.dts[i]! + cts - this.timeline.mediaTime) / this.#ts
  }

  duration(i: number): number {
    const s = this.track.samples
    return i + 1 < s.count ? s.dts[i + 1]! - s.dts[i]! : s.lastDuration
  }

  /** End of sample `i`'s presentation, seconds. */
  ptsEnd(i: number): number {
    return this.pts(i) + this.duration(i) / this.#ts
  }

  /** The first index whose dts, plus the smallest composition offset, is at or after `seconds`: no sample from
   * there on is presented before `seconds`. */
  firstPresentedFrom(seconds: number): number {
    const s = this.track.samples
    const ticks = (seconds - this.timeline.delay) * this.#ts + this.timeline.mediaTime - s.minCtsOffset
    let lo = 0
    let hi = s.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (s.dts[mid]! < ticks - EPSILON * this.#ts) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The last sync sample presented at or before `seconds`, else the first sync sample. */
  syncAtOrBefore(seconds: number): number {
    const sync = this.track.samples.syncSamples
    if (sync === undefined) return this.#lastStartingBy(seconds)
    if (sync.length === 0) return 0
    let lo = 0
    let hi = sync.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.pts(sync[mid]!) <= seconds + EPSILON) lo = mid + 1
      else hi = mid
    }
    return sync[Math.max(0, lo - 1)]!
  }

  /** Every sample a sync sample: the last one presented at or before `seconds`, else the first. */
  #lastStartingBy(seconds: number): number {
    let lo = 0
    let hi = this.track.samples.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.pts(mid) <= seconds + EPSILON) lo = mid + 1
      else hi = mid
    }
    return Math.max(0, lo - 1)
  }

  /** For tracks whose every sample is a sync sample: the first one still presented after `seconds`. */
  firstEndingAfter(seconds: number): number {
    let lo = 0
    let hi = this.track.samples.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.ptsEnd(mid) <= seconds + EPSILON) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The last sample from `first` on that is presented before `seconds` (decode order, so B-frames count). */
  lastBefore(first: number, seconds: number): number {
    if (seconds === Infinity) return this.track.samples.count - 1
    let last = this.firstPresentedFrom(seconds) - 1
    while (last >= first && this.pts(last) >= seconds - EPSILON) last--
    return last
  }
}

/** The first video track, else the first audio track, else the first track: the one whose sync samples rule. */
const referenceTrack = (tracks: ReadonlyArray<TrackTimes>): TrackTimes | undefined =>
  tracks.find((t) => t.track.handler === "vide") ?? tracks.find((t) => t.track.handler === "soun") ?? tracks[0]

const emptyRange = (message: string) => new Mp4CutError({ reason: "EmptyRange", message })

/** The samples and edit lists of the cut of `movie` to `range`; throws Mp4CutError("EmptyRange") if none. */
export const planCut = (movie: Mp4Movie, range: CutRange): CutPlan => {
  const movieScale = movie.timescale
  const times = movie.tracks.filter((t) => t.samples.count > 0).map((t) => new TrackTimes(t, movieScale))
  const reference = referenceTrack(times)
  if (reference === undefined) {
    throw new Mp4CutError({ reason: "Unsupported", message: "the movie has no samples" })
  }
  const wanted = Math.max(0, range.start ?? 0)
  const end = range.end ?? Infinity
  let mediaEnd = 0
  for (const t of times) {
    const lastSample = t.track.samples.count - 1
    mediaEnd = Math.max(mediaEnd, Math.min(t.timeline.end, t.ptsEnd(lastSample)))
  }
  if (wanted >= mediaEnd - EPSILON) {
    throw emptyRange(`start ${wanted} s is at or after the end of the recording (${mediaEnd.toFixed(3)} s)`)
  }
  const key = reference.syncAtOrBefore(wanted)
  // The cut begins at the keyframe; if the reference's first keyframe comes after `start`, at `start` itself.
  const cutStart = Math.min(reference.pts(key), wanted)
  if (end <= cutStart + EPSILON) throw emptyRange(`end ${end} s is not after the cut's start ${cutStart} s`)

  const tracks: Array<CutTrackPlan> = []
  for (const t of times) {
    const samples = t.track.samples
    const shownFirst = t === reference
      ? key
      : samples.syncSamples !== undefined
      ? t.syncAtOrBefore(cutStart)
      : t.firstEndingAfter(cutStart)
    const trackEnd = Math.min(end, t.timeline.end)
    const last = t.lastBefore(shownFirst, trackEnd)
    if (shownFirst >= samples.count || last < shownFirst) continue
    const first = t.track.handler === "soun" ? Math.max(0, shownFirst - AUDIO_PRE_ROLL) : shownFirst
    let earliest = Infinity
    let latest = -Infinity
    for (let i = shownFirst; i <= last; i++) {
      const pts = t.pts(i)
      if (pts < earliest) earliest = pts
      const ptsEnd = pts + t.duration(i) / t.track.timescale
      if (ptsEnd > latest) latest = ptsEnd
    }
    // Output seconds of output media time 0 (the first kept sample's dts).
    const base = t.timeline.delay + (samples.dts[first]! - t.timeline.mediaTime) / t.track.timescale - cutStart
    const shownFrom = Math.max(0, earliest - cutStart)
    const shownTo = Math.min(trackEnd, latest) - cutStart
    const empty = Math.round(shownFrom * movieScale)
    const total = Math.round(shownTo * movieScale)
    if (total <= empty) continue
    const mediaTime = Math.max(0, Math.round((shownFrom - base) * t.track.timescale))
    const media: EditSegment = { kind: "media", mediaTime, duration: total - empty }
    tracks.push({
      track: t.track,
      first,
      last,
      edits: empty > 0 ? [{ kind: "empty", duration: empty }, media] : [media],
      mediaDuration: samples.dts[last]! - samples.dts[first]! + t.duration(last),
      duration: total
    })
  }
  if (tracks.length === 0) throw emptyRange(`nothing is presented between ${cutStart} s and ${end} s`)
  let duration = 0
  for (const t of tracks) duration = Math.max(duration, t.duration)
  return {
    movieTimescale: movieScale,
    startSeconds: cutStart,
    endSeconds: Math.min(end, cutStart + duration / movieScale),
    duration,
    tracks
  }
}
