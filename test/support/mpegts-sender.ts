/**
 * Real ffmpeg as an MPEG-TS source for tests: encode a synthetic H.264 + AAC transport stream file once, then send
 * it (or a live lavfi source) to a UDP port, paced in real time. Every run is bounded in time; kill by PID.
 */
import { spawn, spawnSync } from "node:child_process"

export interface EncodeOptions {
  readonly seconds: number
  readonly size?: string
  readonly fps?: number
  /** Keyframe interval in frames. Default: one per second. */
  readonly gop?: number
  /** B-frames between references (0: none). */
  readonly bframes?: number
  readonly audio?: boolean
  readonly video?: boolean
  readonly sampleRate?: number
  /** Shifts every timestamp by this many seconds (`-output_ts_offset`), e.g. to cross the 33-bit wrap. */
  readonly tsOffsetSeconds?: number
  /** More options for the mpegts muxer, e.g. `["-tables_version", "3", "-mpegts_start_pid", "0x200"]`. */
  readonly muxerArgs?: ReadonlyArray<string>
}

/** The encoder arguments shared by files and live sends: testsrc2 and a sine, H.264 (libx264) and AAC. */
const sourceArgs = (options: EncodeOptions, realtime = false): Array<string> => {
  const fps = options.fps ?? 30
  const bframes = options.bframes ?? 0
  // -re is an input option: each live source needs its own.
  const re = realtime ? ["-re"] : []
  const args: Array<string> = []
  if (options.video !== false) {
    args.push(...re, "-f", "lavfi", "-i", `testsrc2=size=${options.size ?? "320x240"}:rate=${fps}`)
  }
  if (options.audio !== false) {
    args.push(...re, "-f", "lavfi", "-i", `sine=frequency=440:sample_rate=${options.sampleRate ?? 44100}`)
  }
  args.push("-t", String(options.seconds))
  if (options.video !== false) {
    args.push("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", String(options.gop ?? fps))
    // ultrafast disables B-frames; ask for them explicitly.
    args.push("-bf", String(bframes))
    if (bframes > 0) args.push("-x264-params", `bframes=${bframes}:b-adapt=0`)
  }
  if (options.audio !== false) args.push("-c:a", "aac", "-b:a", "96k")
  if (options.tsOffsetSeconds !== undefined) args.push("-output_ts_offset", String(options.tsOffsetSeconds))
  args.push(...(options.muxerArgs ?? []))
  return args
}

/** Encodes an MPEG-TS file with ffmpeg (synchronously, at most 60 s); throws with ffmpeg's stderr on failure. */
export const encodeMpegTs = (path: string, options: EncodeOptions): string => {
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...sourceArgs(options), "-f", "mpegts", path]
  const result = spawnSync("/usr/bin/ffmpeg", args, { encoding: "utf8", timeout: 60_000 })
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed: ${result.stderr ?? result.error}`)
  return path
}

export interface SendOptions {
  readonly port: number
  readonly host?: string
  /** Send this TS file as it is (`-c copy`); otherwise encode `live` on the fly. */
  readonly file?: string
  readonly live?: EncodeOptions
  /** Pace at the media's own rate (-re). Default true: unpaced sends overrun loopback UDP. */
  readonly realtime?: boolean
  /** Datagram size. Default 1316 (7 packets); ffmpeg's own default 1472 splits packets across datagrams. */
  readonly packetSize?: number
}

export const mpegTsSendArgs = (options: SendOptions): Array<string> => {
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin"]
  const realtime = options.realtime !== false
  if (options.file !== undefined) args.push(...(realtime ? ["-re"] : []), "-i", options.file, "-map", "0", "-c", "copy")
  else args.push(...sourceArgs(options.live ?? { seconds: 4 }, realtime))
  const url = `udp://${options.host ?? "127.0.0.1"}:${options.port}?pkt_size=${options.packetSize ?? 1316}`
  args.push("-f", "mpegts", url)
  return args
}

export interface SendResult {
  readonly code: number | null
  readonly stderr: string
}

export interface RunningSender {
  readonly pid: number
  readonly done: Promise<SendResult>
  /** Stops this ffmpeg (by its PID); harmless once it has exited. */
  readonly kill: () => void
}

/** Starts ffmpeg sending; it is killed after `timeoutMs` whatever happens. */
export const startMpegTsSender = (options: SendOptions, timeoutMs = 60_000): RunningSender => {
  const child = spawn("/usr/bin/ffmpeg", mpegTsSendArgs(options), { stdio: ["ignore", "ignore", "pipe"] })
  let exited = false
  const done = new Promise<SendResult>((resolve) => {
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      exited = true
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
  return {
    pid: child.pid!,
    done,
    kill: () => {
      if (!exited) child.kill("SIGKILL")
    }
  }
}

/** Sends to the end and resolves with ffmpeg's exit code and stderr. */
export const sendMpegTs = (options: SendOptions, timeoutMs?: number): Promise<SendResult> =>
  startMpegTsSender(options, timeoutMs).done
