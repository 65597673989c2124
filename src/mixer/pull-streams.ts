/**
 * `--pull-streams` (manual: "Pulling a separate streams from MKV container"): one MKV per stream, named
 * `{name}_{mediaSessionId}.mkv` next to the multi-recording (MKV or MP4), its media copied without re-encoding.
 *
 * A stream removed and added again is several tracks; each kind's tracks become one track of the pulled file,
 * joined with ffmpeg's concat demuxer (`-c copy`). Gaps (a late start, the time between removal and re-adding, the
 * end after the stream left):
 * - filled (default, multi_recorder_mkv_fill_gaps=true): the pulled file covers the whole recording from 0, the
 *   gaps holding black video and silence encoded by ffmpeg in the stream's own codec and format (copy cannot make
 *   frames). All pulled files are then as long as the recording and start together, so players neither skip the
 *   gaps nor drift apart. H.264 parts carry their SPS/PPS before every IDR (h264_mp4toannexb; x264
 *   repeat-headers for the filler), because the filler's parameter sets are not the stream's.
 * - not filled: only the stream's own media, at its times in the recording: the file starts where the stream
 *   started and jumps over the gaps (players may skip them, the manual's known issue 11).
 */
import * as path from "node:path"
import { Effect } from "effect"
import { runChecked } from "./captured-run.ts"
import { MixerError } from "./mixer-error.ts"
import type { MixerTools } from "./mixer-tools.ts"
import { readMultiRecording } from "./multi-recording.ts"
import { mediaSpans, type TrackInfo } from "./tracks-info.ts"
import { workDir, writeWorkFiles } from "./work-dir.ts"

export interface PullOptions {
  readonly file: string
  readonly tools: MixerTools
  /** multi_recorder_mkv_fill_gaps; default true. */
  readonly fillGaps?: boolean
}

export interface PulledStream {
  readonly mediaSessionId: string
  readonly streamName: string
  readonly path: string
}

/** One piece of a pulled track: a source track or a filler, placed on the recording's timeline (seconds). */
export interface Part {
  readonly start: number
  readonly end: number
  readonly track: TrackInfo | undefined
}

/** A file-system-safe form of a mediaSessionId for the output name. */
const safe = (text: string): string => text.replace(/[^\w.-]/g, "_")

/** `dir/name.mkv` -> `dir/name_{mediaSessionId}.mkv`. */
export const pulledPathOf = (file: string, mediaSessionId: string): string =>
  path.join(path.dirname(file), `${path.basename(file, path.extname(file))}_${safe(mediaSessionId)}.mkv`)

const spanOf = (track: TrackInfo) => {
  const spans = mediaSpans(track)
  return { start: (spans[0]?.startInMs ?? 0) / 1000, end: (spans.at(-1)?.endInMs ?? 0) / 1000 }
}

/**
 * The parts of one kind of a stream, in time order: its tracks, and with `fill` a filler before, between and after
 * them so that the parts tile [0, total). Fillers shorter than a millisecond are left out.
 */
export const partsOf = (tracks: ReadonlyArray<TrackInfo>, total: number, fill: boolean): ReadonlyArray<Part> => {
  const sorted = [...tracks].sort((a, b) => spanOf(a).start - spanOf(b).start)
  const parts: Array<Part> = []
  let cursor = 0
  for (const track of sorted) {
    const span = spanOf(track)
    const start = Math.max(span.start, cursor)
    if (fill && start - cursor >= 0.001) parts.push({ start: cursor, end: start, track: undefined })
    parts.push({ start, end: Math.max(start, span.end), track })
    cursor = Math.max(start, span.end)
  }
  if (fill && total - cursor >= 0.001) parts.push({ start: cursor, end: total, track: undefined })
  return parts
}

const num = (value: number): string => String(Number(value.toFixed(6)))

/** ffmpeg encoder arguments that remake a track's format for a filler. */
const fillerEncoder = (track: TrackInfo): ReadonlyArray<string> | undefined => {
  switch (track.trackCodec) {
    case "avc1":
    case "h264":
      return ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-x264-params", "repeat-headers=1"]
    case "vp8":
      return ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "100k"]
    case "mp4a":
    case "aac":
      return ["-c:a", "aac"]
    case "opus":
      return ["-c:a", "libopus"]
    case "pcm_alaw":
      return ["-c:a", "pcm_alaw"]
    case "pcm_mulaw":
      return ["-c:a", "pcm_mulaw"]
    case "adpcm_g722":
      return ["-c:a", "g722"]
    default:
      return undefined
  }
}

const isH264 = (track: TrackInfo): boolean => track.trackCodec === "avc1" || track.trackCodec === "h264"

/** The filler's frame rate: the track's own (rounded), so the pulled track keeps one rate; 30 when unknown. */
const fillerFps = (track: TrackInfo): number => {
  const fps = Math.round(track.frameRate ?? 0)
  return fps >= 1 && fps <= 120 ? fps : 30
}

const fillerArgs = (model: TrackInfo, seconds: number, out: string): ReadonlyArray<string> | undefined => {
  const encoder = fillerEncoder(model)
  if (encoder === undefined) return undefined
  const source = model.trackType === "VIDEO"
    ? `color=c=black:s=${model.width}x${model.height}:r=${fillerFps(model)}`
    : `anullsrc=r=${model.sampleRate}:cl=${model.channels === 1 ? "mono" : "stereo"}`
  return ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-t", num(seconds),
    ...encoder, ...(model.trackType === "VIDEO" ? ["-g", String(fillerFps(model) * 2)] : []), "-f", "matroska", out]
}

const copyArgs = (file: string, track: TrackInfo, out: string): ReadonlyArray<string> => [
  "-hide_banner", "-loglevel", "error", "-y", "-i", file, "-map", `0:${track.streamIndex}`, "-c", "copy",
  ...(isH264(track) ? ["-bsf:v", "h264_mp4toannexb"] : []), "-f", "matroska", out
]

/** A concat demuxer list (ffmpeg-formats(1) "concat"): each part with its exact length on the timeline. */
const concatList = (files: ReadonlyArray<{ readonly file: string; readonly part: Part }>, fill: boolean): string =>
  files.map(({ file, part }, i) => {
    // Not filled: the gap after a part belongs to its length, so the next part keeps its time in the recording.
    const next = files[i + 1]?.part
    const length = fill || next === undefined ? part.end - part.start : next.start - part.start
    // A filler's encoder may end a codec frame past the gap (AAC frames are 21 ms): `outpoint` drops what starts
    // after it, so the filler never overlaps the stream's own first packet.
    const outpoint = part.track === undefined ? `outpoint ${num(part.end - part.start)}\n` : ""
    return `file '${file.replace(/'/g, "'\\''")}'\n${outpoint}` +
      (next === undefined && !fill ? "" : `duration ${num(length)}\n`)
  }).join("")

/** Builds the parts of one kind of one stream in `work` and writes its concat list; returns the list's path. */
const buildKind = Effect.fn("PullStreams.kind")(function*(
  tools: MixerTools,
  file: string,
  tracks: ReadonlyArray<TrackInfo>,
  total: number,
  fill: boolean,
  work: string,
  prefix: string
) {
  const files: Array<{ file: string; part: Part }> = []
  for (const [i, part] of partsOf(tracks, total, fill).entries()) {
    const out = path.join(work, `${prefix}-${i}.mkv`)
    if (part.track !== undefined) {
      yield* runChecked(tools.ffmpeg, copyArgs(file, part.track, out))
    } else {
      const args = fillerArgs(tracks[0]!, part.end - part.start, out)
      if (args === undefined) {
        return yield* new MixerError({
          reason: "FfmpegFailed",
          message: `cannot fill gaps of a ${tracks[0]!.trackCodec} track; pull with fill gaps off`
        })
      }
      yield* runChecked(tools.ffmpeg, args)
    }
    files.push({ file: out, part })
  }
  const list = path.join(work, `${prefix}.txt`)
  yield* writeWorkFiles(new Map([[list, concatList(files, fill)]]))
  return { list, start: files[0]!.part.start }
})

/** Pulls every stream of a multi-recording into its own MKV. */
export const pullStreams = Effect.fn("PullStreams.pull")(function*(options: PullOptions) {
  const fill = options.fillGaps ?? true
  const recording = yield* readMultiRecording(options.file, options.tools.ffprobe)
  if (recording.tracks.length === 0) {
    return yield* new MixerError({ reason: "NoTracks", message: `${recording.file}: no audio or video track` })
  }
  const total = recording.durationInMs / 1000
  const ids = [...new Set(recording.tracks.map((track) => track.mediaSessionId))]
  const pulled: Array<PulledStream> = []
  for (const id of ids) {
    const own = recording.tracks.filter((track) => track.mediaSessionId === id)
    const out = pulledPathOf(recording.file, id)
    yield* Effect.scoped(Effect.gen(function*() {
      const work = yield* workDir("pulling")
      const inputs: Array<string> = []
      for (const kind of ["VIDEO", "AUDIO"] as const) {
        const tracks = own.filter((track) => track.trackType === kind)
        if (tracks.length === 0) continue
        const { list, start } = yield* buildKind(options.tools, recording.file, tracks, total, fill, work, kind)
        const offset = fill || start === 0 ? [] : ["-itsoffset", num(start)]
        inputs.push(...offset, "-f", "concat", "-safe", "0", "-i", list)
      }
      const maps = inputs.filter((arg) => arg === "-i").flatMap((_, i) => ["-map", `${i}`])
      yield* runChecked(options.tools.ffmpeg, [
        "-hide_banner", "-loglevel", "error", "-y", ...inputs, ...maps, "-c", "copy", "-f", "matroska", out
      ])
    }))
    yield* Effect.logInfo(`pulled ${id} into ${out}`)
    pulled.push({ mediaSessionId: id, streamName: own[0]!.streamName, path: out })
  }
  return pulled
})
