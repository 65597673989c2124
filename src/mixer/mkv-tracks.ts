/**
 * The tracks of an MKV multi-recording, through ffprobe. Matroska has no edit lists: a stream that joined late
 * starts with its first block's timestamp, so its timeline is a pause up to that time and media after it. A track's
 * end is its DURATION tag (ffmpeg's muxer writes one per track) or else the end of its last packet.
 */
import { Effect } from "effect"
import { runChecked } from "./captured-run.ts"
import { MixerError } from "./mixer-error.ts"
import { parseTrackName } from "./track-name.ts"
import { editsFromSpan, type MultiRecording, type TrackInfo } from "./tracks-info.ts"

interface ProbedStream {
  readonly index: number
  readonly codec_type?: string
  readonly codec_name?: string
  readonly time_base?: string
  readonly avg_frame_rate?: string
  readonly r_frame_rate?: string
  readonly start_time?: string
  readonly width?: number
  readonly height?: number
  readonly channels?: number
  readonly sample_rate?: string
  readonly tags?: Readonly<Record<string, string>>
}

/** `HH:MM:SS.fraction` (Matroska's DURATION tag) in ms, or undefined. */
export const parseTagDuration = (text: string | undefined): number | undefined => {
  const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text ?? "")
  if (match === null) return undefined
  return (Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])) * 1000
}

const tag = (stream: ProbedStream, name: string): string | undefined => {
  const tags = stream.tags ?? {}
  const key = Object.keys(tags).find((k) => k.toLowerCase() === name.toLowerCase())
  return key === undefined ? undefined : tags[key]
}

/** `30000/1001` -> 29.97; 0 for `0/0` or nothing. */
const rate = (text: string | undefined): number => {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? "")
  return match === null || Number(match[2]) === 0 ? 0 : Number(match[1]) / Number(match[2])
}

const timescaleOf = (timeBase: string | undefined): number => {
  const match = /^(\d+)\/(\d+)$/.exec(timeBase ?? "")
  return match === null ? 1000 : Math.round(Number(match[2]) / Number(match[1]))
}

/**
 * The first presentation time and the end (pts + duration) of each stream's packets, in ms, from one pass of
 * ffprobe over the packets. A stream's `start_time` from -show_streams is not enough: ffprobe only sees the
 * streams that have a packet within its probing window, and gives the others the file's start.
 */
const packetSpans = (file: string, ffprobePath: string) =>
  runChecked(ffprobePath, [
    "-v", "error", "-show_entries", "packet=stream_index,pts_time,duration_time", "-of", "csv=p=0", file
  ], "UnreadableInput").pipe(Effect.map((csv) => {
    const spans = new Map<number, { startMs: number; endMs: number }>()
    for (const line of csv.split("\n")) {
      const [index, pts, duration] = line.split(",")
      const start = Number(pts)
      if (index === undefined || index === "" || pts === "" || !Number.isFinite(start)) continue
      const end = (start + (Number(duration) || 0)) * 1000
      const span = spans.get(Number(index))
      if (span === undefined) spans.set(Number(index), { startMs: start * 1000, endMs: end })
      else {
        span.startMs = Math.min(span.startMs, start * 1000)
        span.endMs = Math.max(span.endMs, end)
      }
    }
    return spans
  }))

const trackInfo = (stream: ProbedStream, span: { readonly startMs: number; readonly endMs: number }): TrackInfo => {
  const title = tag(stream, "title")
  const owner = parseTrackName(title)
  const trackId = stream.index + 1
  const trackEdits = editsFromSpan(Math.max(0, span.startMs), span.endMs)
  const common = {
    trackId,
    streamIndex: stream.index,
    streamName: owner?.streamName ?? title ?? "",
    mediaSessionId: owner?.mediaSessionId ?? `track-${trackId}`,
    durationInMS: trackEdits.at(-1)!.endInMs,
    timescale: timescaleOf(stream.time_base),
    trackCodec: stream.codec_name ?? "unknown",
    trackEdits
  }
  return stream.codec_type === "video"
    ? {
      ...common,
      trackType: "VIDEO",
      width: stream.width ?? 0,
      height: stream.height ?? 0,
      frameRate: rate(stream.avg_frame_rate) || rate(stream.r_frame_rate)
    }
    : { ...common, trackType: "AUDIO", channels: stream.channels ?? 0, sampleRate: Number(stream.sample_rate ?? 0) }
}

/** Reads an MKV multi-recording's tracks through ffprobe. Streams that are neither audio nor video are left out. */
export const readMkvTracks = Effect.fn("TracksInfo.readMkv")(function*(file: string, ffprobePath: string) {
  const json = yield* runChecked(ffprobePath, ["-v", "error", "-show_streams", "-of", "json", file], "UnreadableInput")
  const streams = yield* Effect.try({
    try: () => (JSON.parse(json).streams ?? []) as ReadonlyArray<ProbedStream>,
    catch: () => new MixerError({ reason: "UnreadableInput", message: `${file}: ffprobe printed no JSON` })
  })
  const media = streams.filter((s) => s.codec_type === "video" || s.codec_type === "audio")
  // Every stream's first packet from a scan; its end from ffmpeg's DURATION tag when there is one (exact where the
  // last packet has no duration), else from the scan.
  const spans = yield* packetSpans(file, ffprobePath)
  const tracks = media.map((s) => {
    const span = spans.get(s.index) ?? { startMs: 0, endMs: 0 }
    return trackInfo(s, { startMs: span.startMs, endMs: parseTagDuration(tag(s, "DURATION")) ?? span.endMs })
  })
  return {
    file,
    container: "mkv",
    durationInMs: Math.max(0, ...tracks.map((track) => track.durationInMS)),
    creationTime: undefined,
    tracks
  } satisfies MultiRecording
})
