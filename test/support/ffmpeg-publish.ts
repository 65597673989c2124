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
  args.push("-f", "flv", options.url)
  return args
}

export const ffmpegPublish = (options: PublishOptions, timeoutMs = 60_000): Promise<PublishResult> =>
  new Promise((resolve) => {
    const child = spawn("ffmpeg", ffmpegPublishArgs(options), { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
