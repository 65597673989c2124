// The benchmark's input: a 1080p30 3 Mbps H.264 (High, B-frames, GOP 60) + AAC 44.1 kHz stereo FLV made once with
// ffmpeg and cached under bench/out, and a reader that loads its tags into memory (FLV spec v10.1, annex E).
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const benchOutDir = join(dirname(fileURLToPath(import.meta.url)), "out")
export const fixturePath = join(benchOutDir, "fixture-1080p30-3M-aac-20s.flv")

export const TAG_AUDIO = 8
export const TAG_VIDEO = 9
export const TAG_SCRIPT = 18

export interface FlvTag {
  readonly type: number
  /** Decode timestamp in milliseconds (FLV tag Timestamp + TimestampExtended). */
  readonly timestamp: number
  readonly payload: Buffer
  /** Video only: a coded frame (AVCPacketType 1), as opposed to a sequence header or end of sequence. */
  readonly isVideoFrame: boolean
  /** Audio or video codec configuration (AVC sequence header, AAC AudioSpecificConfig). */
  readonly isSequenceHeader: boolean
}

export interface FlvFixture {
  readonly path: string
  readonly tags: ReadonlyArray<FlvTag>
  /** Sent once at the start of a stream: onMetaData and the audio and video sequence headers. */
  readonly headerTags: ReadonlyArray<FlvTag>
  /** Sent on every loop, in file order: coded video frames and audio frames with timestamp < loopSpanMs. */
  readonly loopTags: ReadonlyArray<FlvTag>
  /** Video frames in loopTags. */
  readonly videoFramesPerLoop: number
  /** Timestamp offset between loops: one video frame interval after the last video frame. */
  readonly loopSpanMs: number
}

const ffmpegArgs = (out: string, seconds: number): Array<string> => [
  "-hide_banner", "-loglevel", "error", "-y",
  "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
  "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
  "-t", String(seconds),
  "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-pix_fmt", "yuv420p",
  "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M", "-g", "60", "-bf", "2",
  "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2",
  "-f", "flv", out
]

/** Makes the fixture unless cached; written under a temporary name, then renamed, so a partial file never counts. */
export const ensureFixture = (path = fixturePath, seconds = 20): string => {
  if (existsSync(path)) return path
  mkdirSync(dirname(path), { recursive: true })
  const partial = `${path}.partial.flv`
  execFileSync("ffmpeg", ffmpegArgs(partial, seconds), { stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 })
  renameSync(partial, path)
  return path
}

/** Reads every tag of an FLV file (header: 9 bytes; then PreviousTagSize0 and tags each followed by its size). */
export const readFlvTags = (path: string): FlvFixture => {
  const file = readFileSync(path)
  if (file.toString("latin1", 0, 3) !== "FLV") throw new Error(`${path}: not an FLV file`)
  const tags: Array<FlvTag> = []
  let offset = file.readUInt32BE(5) + 4
  while (offset + 11 <= file.length) {
    const type = file[offset]! & 0x1f
    const size = file.readUIntBE(offset + 1, 3)
    const timestamp = (file.readUIntBE(offset + 4, 3) | (file[offset + 7]! << 24)) >>> 0
    const start = offset + 11
    if (start + size > file.length) break
    const payload = file.subarray(start, start + size)
    tags.push({ type, timestamp, payload, ...classify(type, payload) })
    offset = start + size + 4
  }
  return splitForLooping(path, tags)
}

// The video track sets the loop span; audio frames past it are dropped (ffmpeg's encoder flush, a few ms) so that
// audio stays monotonic and in step with video. The AVC end-of-sequence tag is not sent at all.
const splitForLooping = (path: string, tags: Array<FlvTag>): FlvFixture => {
  const video = tags.filter((t) => t.isVideoFrame).map((t) => t.timestamp)
  if (video.length < 2) throw new Error(`${path}: needs at least two video frames`)
  const interval = Math.round((video[video.length - 1]! - video[0]!) / (video.length - 1))
  const loopSpanMs = video[video.length - 1]! + interval
  const headerTags = tags.filter((t) => t.type === TAG_SCRIPT || t.isSequenceHeader)
  const loopTags = tags.filter(
    (t) => t.isVideoFrame || (t.type === TAG_AUDIO && !t.isSequenceHeader && t.timestamp < loopSpanMs)
  )
  return { path, tags, headerTags, loopTags, videoFramesPerLoop: video.length, loopSpanMs }
}

// Video tag (E.4.3): FrameType|CodecID, AVCPacketType (0 header, 1 NALU, 2 end of sequence).
// Audio tag (E.4.2): SoundFormat|rate|size|type, AACPacketType (0 header, 1 raw).
const classify = (type: number, payload: Buffer) => {
  if (type === TAG_VIDEO) {
    const avc = (payload[0]! & 0x0f) === 7
    return { isVideoFrame: !avc || payload[1] === 1, isSequenceHeader: avc && payload[1] === 0 }
  }
  if (type === TAG_AUDIO) {
    const aac = payload[0]! >> 4 === 10
    return { isVideoFrame: false, isSequenceHeader: aac && payload[1] === 0 }
  }
  return { isVideoFrame: false, isSequenceHeader: false }
}

/** Video frames a publisher sends for durationMs of media: the looped fixture's frames timestamped before it. */
export const videoFramesDue = (fixture: FlvFixture, durationMs: number): number => {
  const frames = fixture.loopTags.filter((t) => t.isVideoFrame)
  const fullLoops = Math.floor(durationMs / fixture.loopSpanMs)
  const rest = durationMs - fullLoops * fixture.loopSpanMs
  return fullLoops * frames.length + frames.filter((t) => t.timestamp < rest).length
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fixture = readFlvTags(ensureFixture())
  const bytes = fixture.loopTags.reduce((n, t) => n + t.payload.length, 0)
  console.log(
    `${fixture.path}: ${fixture.tags.length} tags, ${fixture.videoFramesPerLoop} video frames, ` +
      `loop span ${fixture.loopSpanMs} ms, ` +
      `${((bytes * 8) / fixture.loopSpanMs / 1000).toFixed(2)} Mbit/s`
  )
}
