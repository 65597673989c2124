/**
 * Real ffmpeg publishers for end-to-end tests: synthetic H.264 + AAC over RTMP, bounded in time.
 */
import { spawn } from "node:child_process"

export interface PublishOptions {
  readonly url: string
  readonly seconds: number
  readonly fps?: number
  readonly size?: string
  readonly bframes?: number
  readonly gop?: number
  readonly audio?: boolean
  readonly video?: boolean
  /** Publish in real time (-re); off by default so tests run fast. */
  readonly realtime?: boolean
  /** Also write the very same encoded stream to this FLV file, as the reference to compare a recording with. */
  readonly referenceFlv?: string
}

export interface PublishResult {
  readonly code: number | null
  readonly stderr: string
}

export const ffmpegPublishArgs = (options: PublishOptions): Array<string> => {
  const fps = options.fps ?? 30
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin"]
  if (options.realtime) args.push("-re")
  if (options.video !== false) {
    args.push("-f", "lavfi", "-i", `testsrc2=size=${options.size ?? "640x360"}:rate=${fps}`)
  }
  if (options.audio !== false) args.push("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100")
  args.push("-t", String(options.seconds))
  if (options.video !== false) {
    args.push(
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
      "-g", String(options.gop ?? fps), "-bf", String(options.bframes ?? 0)
    )
    // ultrafast disables B-frames; re-enable them explicitly when asked for.
    if ((options.bframes ?? 0) > 0) args.push("-x264-params", `bframes=${options.bframes}:b-adapt=0`)
  }
  if (options.audio !== false) args.push("-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2")
  if (options.referenceFlv === undefined) {
    args.push("-f", "flv", options.url)
  } else {
    // The tee muxer does not ask encoders for global headers; FLV needs them for its sequence headers.
    args.push("-flags", "+global_header")
    if (options.video !== false) args.push("-map", "0:v")
    if (options.audio !== false) args.push("-map", `${options.video === false ? 0 : 1}:a`)
    args.push("-f", "tee", `[f=flv]${options.url}|[f=flv]${options.referenceFlv}`)
  }
  return args
}

export interface RunningPublish {
  readonly pid: number
  readonly done: Promise<PublishResult>
  readonly kill: (signal?: NodeJS.Signals) => void
}

export const ffmpegPublish = (options: PublishOptions, timeoutMs = 60_000): Promise<PublishResult> =>
  startPublish(options, timeoutMs).done

export const startPublish = (options: PublishOptions, timeoutMs = 60_000): RunningPublish => {
  const child = spawn("ffmpeg", ffmpegPublishArgs(options), { stdio: ["ignore", "ignore", "pipe"] })
  const done = new Promise<PublishResult>((resolve) => {
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
  return { pid: child.pid!, done, kill: (signal = "SIGTERM") => child.kill(signal) }
}
