/**
 * The ffmpeg command that mixes a multi-recording, as a pure function of its tracks and the settings.
 *
 * Each segment of the layout timeline (mixer-layout.ts) is its own input of the same file, opened half a second
 * before the segment's start (`-ss start-preroll -t preroll+length -i file`; the graph drops the pre-roll again), so
 * every stream a segment uses begins with it, with the frame on screen at its start. One input for the whole
 * file does not work: ffmpeg configures a filter graph only once every input stream has produced a frame, and holds
 * all decoded frames until then, so a participant who joins after 50 s made ffmpeg 5.1 hold 50 s of decoded video
 * (763 MB peak RSS for one 640x480 stream; BENCHMARKS.md "Offline mixer speed"). Per segment: a black picture of
 * exactly the segment's frames, each present participant scaled into its cell (aspect kept, padded black) with its
 * name drawn, overlaid in grid order; exact silence with every audio track that plays in the segment mixed in (amix
 * normalize=0, so levels stay as recorded; aresample first_pts=0 puts a track that starts inside the segment at its
 * place). The segments are then joined with concat, so the layout changes on the frame where someone joins or leaves.
 */
import { cellsOf, type LayoutSource, type Span, snapSpans, timeline } from "./mixer-layout.ts"
import type { LabelFont } from "./stream-label.ts"
import { mediaSpans, type MultiRecording, type TrackInfo } from "./tracks-info.ts"

/** AAC's usual rate; every audio track is resampled to it before mixing. */
export const MIX_SAMPLE_RATE = 48_000

/** How far before its segment each input starts reading, so that the frame on screen at the start is read too. */
const PRE_ROLL_SECONDS = 0.5

/**
 * The pre-roll of a segment starting at `start` (on the `fps` frame grid): half a second, a whole number of frames,
 * less at the very start of the file. Its input is opened that much earlier and the graph drops it again.
 */
const preRoll = (start: number, fps: number): number => Math.min(Math.round(PRE_ROLL_SECONDS * fps) / fps, start)

export interface MixPlanRequest {
  readonly recording: MultiRecording
  readonly hasVideo: boolean
  readonly hasAudio: boolean
  readonly width: number
  readonly height: number
  readonly fps: number
  /** The text drawn in each participant's cell, by mediaSessionId; participants without one get no label. */
  readonly labels: ReadonlyMap<string, string>
  /** Where each label's text file is (drawtext reads it; no escaping of the text is needed). */
  readonly labelFile: (mediaSessionId: string) => string
  readonly font: LabelFont
}

export interface MixPlanSegment {
  readonly start: number
  readonly end: number
  /** mediaSessionIds in grid order. */
  readonly present: ReadonlyArray<string>
  readonly videoTracks: ReadonlyArray<TrackInfo>
  readonly audioTracks: ReadonlyArray<TrackInfo>
}

export interface MixPlan {
  readonly segments: ReadonlyArray<MixPlanSegment>
  /** The span of the file each input reads (one per segment that reads the file), in input order. */
  readonly inputs: ReadonlyArray<Span>
  /** The `-filter_complex_script` text. */
  readonly filterScript: string
  /** The graph's output labels to `-map`: `[vout]` and/or `[aout]`. */
  readonly outputs: ReadonlyArray<string>
  /** Length of the mixed file in seconds (a whole number of frames). */
  readonly duration: number
}

const seconds = (ms: number): number => ms / 1000
const spansOf = (track: TrackInfo): ReadonlyArray<Span> =>
  mediaSpans(track).map((edit) => ({ start: seconds(edit.startInMs), end: seconds(edit.endInMs) }))

/** A number for the command line: at most 6 decimals, no exponent. */
const num = (value: number): string => String(Number(value.toFixed(6)))

/**
 * Escapes a filter option value twice over: for the option parser (`\ ' :`) and then for the graph parser
 * (`\ ' [ ] , ;`), as ffmpeg-filters(1) "Notes on filtergraph escaping" describes.
 */
export const filterValue = (value: string): string =>
  value.replace(/[\\':]/g, (c) => `\\${c}`).replace(/[\\'[\],;]/g, (c) => `\\${c}`)

/**
 * The video participants: each mediaSessionId with the media spans of all its video tracks, where one track is
 * followed within the pre-roll by the next (a stream that changed resolution goes on in a new track) joined into one:
 * its last frame stays on screen until the next, as it did in the stream, instead of the participant leaving the
 * picture for a moment.
 */
export const videoSources = (tracks: ReadonlyArray<TrackInfo>): ReadonlyArray<LayoutSource> => {
  const byId = new Map<string, Array<Span>>()
  for (const track of tracks) {
    if (track.trackType !== "VIDEO") continue
    byId.set(track.mediaSessionId, [...(byId.get(track.mediaSessionId) ?? []), ...spansOf(track)])
  }
  return [...byId].map(([id, spans]) => ({ id, spans: bridged(spans) }))
}

const bridged = (spans: ReadonlyArray<Span>): Array<Span> => {
  const joined: Array<Span> = []
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const last = joined.at(-1)
    if (last !== undefined && span.start - last.end <= PRE_ROLL_SECONDS) {
      joined[joined.length - 1] = { start: last.start, end: Math.max(last.end, span.end) }
    } else joined.push(span)
  }
  return joined
}

/**
 * The video track of a participant that covers [start, end) on the frame grid; in a gap that videoSources bridged,
 * the track before it (the segment's pre-roll reads its last frame, which overlay then holds).
 */
const videoTrackAt = (tracks: ReadonlyArray<TrackInfo>, id: string, start: number, end: number, fps: number) => {
  const own = tracks.filter((track) => track.trackType === "VIDEO" && track.mediaSessionId === id)
    .map((track) => ({ track, spans: snapSpans(spansOf(track), fps) }))
  const covering = own.find(({ spans }) => spans.some((span) => span.start <= start && span.end >= end))
  const before = own.filter(({ spans }) => spans.some((span) => span.end <= start))
    .sort((a, b) => Math.max(...a.spans.map((s) => s.end)) - Math.max(...b.spans.map((s) => s.end)))
    .at(-1)
  return (covering ?? before)?.track
}

/** Audio tracks with samples in [start, end). */
const audioTracksIn = (tracks: ReadonlyArray<TrackInfo>, start: number, end: number) =>
  tracks.filter((track) =>
    track.trackType === "AUDIO" && spansOf(track).some((span) => span.start < end - 0.001 && span.end > start + 0.001)
  )

/** Splits the file's timeline into the segments to mix, with the tracks each one reads. */
export const planSegments = (request: MixPlanRequest): ReadonlyArray<MixPlanSegment> => {
  const tracks = request.recording.tracks
  const audio = request.hasAudio ? tracks.filter((track) => track.trackType === "AUDIO") : []
  // Every track's start and end is a cut, so that each segment reads one video track per participant, also where
  // videoSources joined two.
  const video = request.hasVideo ? tracks.filter((track) => track.trackType === "VIDEO") : []
  const cuts = [...audio, ...video].flatMap((track) => spansOf(track).flatMap((span) => [span.start, span.end]))
  const sources = request.hasVideo ? videoSources(tracks) : []
  return timeline(sources, seconds(request.recording.durationInMs), request.fps, cuts).map((segment) => ({
    ...segment,
    videoTracks: segment.present.map((id) => videoTrackAt(tracks, id, segment.start, segment.end, request.fps)!),
    audioTracks: audioTracksIn(audio, segment.start, segment.end)
  }))
}

/**
 * drawtext for one label at the bottom left of a cell, on a half-transparent box, sized to the cell. The text
 * comes from a file (`textfile`, `expansion=none`), so a stream name needs no escaping and `%{...}` is not expanded.
 */
export const labelFilter = (font: LabelFont, labelFile: string, cellHeight: number): string => {
  const face = font._tag === "File" ? `fontfile=${filterValue(font.path)}` : `font=${filterValue(font.family)}`
  const size = Math.max(12, Math.round(cellHeight / 20))
  return `drawtext=${face}:textfile=${filterValue(labelFile)}:expansion=none:fontsize=${size}:fontcolor=white` +
    `:box=1:boxcolor=black@0.5:boxborderw=${Math.round(size / 4)}:x=${size / 2}:y=h-th-${size / 2}`
}

const drawtext = (request: MixPlanRequest, id: string, cellHeight: number): string =>
  request.labels.has(id) ? `,${labelFilter(request.font, request.labelFile(id), cellHeight)}` : ""

const segmentVideo = (request: MixPlanRequest, segment: MixPlanSegment, k: number, input: number): Array<string> => {
  const frames = Math.round((segment.end - segment.start) * request.fps)
  const lines = [
    `color=c=black:s=${request.width}x${request.height}:r=${request.fps},trim=end_frame=${frames},setsar=1[b${k}]`
  ]
  const cells = cellsOf(segment.present.length, request.width, request.height)
  let base = `b${k}`
  segment.present.forEach((id, j) => {
    const cell = cells[j]!
    const track = segment.videoTracks[j]!
    // fps from the end of the pre-roll on shows the frame on screen at the segment's start from its first frame (the
    // seek would have dropped it, leaving the cell black until the participant's next frame, or for the whole of a
    // segment shorter than one of its frames).
    const skip = num(preRoll(segment.start, request.fps))
    lines.push(
      `[${input}:${track.streamIndex}]fps=${request.fps}:start_time=${skip},setpts=PTS-${skip}/TB,` +
        `scale=${cell.width}:${cell.height}:force_original_aspect_ratio=decrease` +
        `:force_divisible_by=2,pad=${cell.width}:${cell.height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1` +
        `${drawtext(request, id, cell.height)}[c${k}_${j}]`,
      `[${base}][c${k}_${j}]overlay=x=${cell.x}:y=${cell.y}:eof_action=repeat[o${k}_${j}]`
    )
    base = `o${k}_${j}`
  })
  // A participant's frames past the segment's end (its -t cut counts from its first frame, not from the start) make
  // overlay go on after the black picture ends: the picture is cut to the segment's frames again.
  lines.push(`[${base}]trim=end_frame=${frames},format=yuv420p[v${k}]`)
  return lines
}

const AUDIO_FORMAT = `aformat=sample_fmts=fltp:sample_rates=${MIX_SAMPLE_RATE}:channel_layouts=stereo`

const segmentAudio = (request: MixPlanRequest, segment: MixPlanSegment, k: number, input: number): Array<string> => {
  const samples = Math.round((segment.end - segment.start) * MIX_SAMPLE_RATE)
  const silence = `anullsrc=r=${MIX_SAMPLE_RATE}:cl=stereo,atrim=end_sample=${samples},${AUDIO_FORMAT}`
  if (segment.audioTracks.length === 0) return [`${silence}[a${k}]`]
  const lines = [`${silence}[s${k}]`]
  const skip = num(preRoll(segment.start, request.fps))
  segment.audioTracks.forEach((track, j) =>
    lines.push(
      `[${input}:${track.streamIndex}]atrim=start=${skip},asetpts=PTS-${skip}/TB,` +
        `aresample=${MIX_SAMPLE_RATE}:async=1:first_pts=0,${AUDIO_FORMAT}[t${k}_${j}]`
    )
  )
  const inputs = [`[s${k}]`, ...segment.audioTracks.map((_, j) => `[t${k}_${j}]`)].join("")
  lines.push(`${inputs}amix=inputs=${segment.audioTracks.length + 1}:duration=first:dropout_transition=0` +
    `:normalize=0,${AUDIO_FORMAT}[a${k}]`)
  return lines
}

/** The whole ffmpeg mixing plan: inputs, filter graph and output labels. */
export const planMix = (request: MixPlanRequest): MixPlan => {
  const segments = planSegments(request)
  const inputs: Array<Span> = []
  const lines: Array<string> = []
  const joined: Array<string> = []
  segments.forEach((segment, k) => {
    const reads = (request.hasVideo && segment.videoTracks.length > 0) || segment.audioTracks.length > 0
    const input = reads ? inputs.push({ start: segment.start, end: segment.end }) - 1 : -1
    if (request.hasVideo) lines.push(...segmentVideo(request, segment, k, input))
    if (request.hasAudio) lines.push(...segmentAudio(request, segment, k, input))
    joined.push(`${request.hasVideo ? `[v${k}]` : ""}${request.hasAudio ? `[a${k}]` : ""}`)
  })
  const outputs = [...(request.hasVideo ? ["[vout]"] : []), ...(request.hasAudio ? ["[aout]"] : [])]
  const kinds = `v=${request.hasVideo ? 1 : 0}:a=${request.hasAudio ? 1 : 0}`
  lines.push(`${joined.join("")}concat=n=${segments.length}:${kinds}${outputs.join("")}`)
  return {
    segments,
    inputs,
    filterScript: lines.join(";\n") + "\n",
    outputs,
    duration: segments.at(-1)?.end ?? 0
  }
}

export interface MixCommandOptions {
  readonly file: string
  readonly output: string
  readonly filterScriptPath: string
  readonly fps: number
  /** Threads for each decoder, the filter graph and the encoder (1 unless multithreading). */
  readonly threads: number
}

/**
 * ffmpeg's arguments for a plan. Progress goes to stdout as `-progress` key=value lines; stdin stays open so the
 * mixer can stop ffmpeg with `q`, which finishes the file (moov written) so that what was mixed plays.
 *
 * Each input opens its segment's pre-roll earlier and seeks with `-seek_timestamp 1`: without it ffmpeg adds the
 * file's start time (its earliest packet, e.g. 155 ms into an MKV whose first participant joined then) to `-ss`, so
 * every segment read the participants that late.
 */
export const mixCommandArgs = (plan: MixPlan, options: MixCommandOptions): ReadonlyArray<string> => [
  "-hide_banner", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y",
  ...plan.inputs.flatMap((span) => {
    const from = span.start - preRoll(span.start, options.fps)
    return [
      "-threads", String(options.threads), "-seek_timestamp", "1",
      "-ss", num(from), "-t", num(span.end - from), "-i", options.file
    ]
  }),
  "-filter_complex_script", options.filterScriptPath, "-filter_complex_threads", String(options.threads),
  ...(plan.outputs.includes("[vout]")
    ? ["-map", "[vout]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
      "-r", String(options.fps), "-g", String(options.fps * 2)]
    : []),
  ...(plan.outputs.includes("[aout]") ? ["-map", "[aout]", "-c:a", "aac", "-b:a", "128k"] : []),
  "-threads", String(options.threads), "-f", "mp4", options.output
]
