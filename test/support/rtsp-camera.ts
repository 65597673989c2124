/**
 * Launches test/support/rtsp-camera.py (a GStreamer RTSP server standing in for an IP camera) on a loopback port,
 * waits for its READY line, records the requests it reports, and kills it by PID; `restart` brings it back on the
 * same port, to play a camera that dies and comes back.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { Effect } from "effect"
import { freePort } from "./capstan-process.ts"

export interface RtspCameraOptions {
  readonly port?: number
  /** "user:password" for Basic authentication. */
  readonly basic?: string
  /** "user:password" for Digest authentication (GstRtspServer 1.22 offers it without qop). */
  readonly digest?: string
  /** Refuse RTP over TCP: SETUP with interleaved answers 461. */
  readonly udpOnly?: boolean
  /** The Session timeout the server announces and enforces, in seconds. */
  readonly sessionTimeout?: number
}

/** What rtsp-camera.py serves: H.264 with AAC, PCMA, PCMU or G.722 audio (a 440 Hz tone). */
export type CameraMount = "/h264aac" | "/h264pcma" | "/h264pcmu" | "/h264g722"

export interface RtspCamera {
  readonly port: number
  /** `rtsp://[credentials@]127.0.0.1:port/mount`. */
  readonly url: (mount: CameraMount | string, credentials?: string) => string
  /** The `REQUEST <METHOD> <session>` lines the server printed so far, as "METHOD session". */
  readonly requests: () => Array<string>
  /** Everything the server printed (stdout and stderr). */
  readonly output: () => string
  /** SIGKILL, as a camera losing power; resolves once the process is gone. */
  readonly kill: () => Promise<void>
  /** Starts the server again on the same port. */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

const SCRIPT = path.resolve("test/support/rtsp-camera.py")
const READY_TIMEOUT_MS = 20_000

const argsFor = (port: number, options: RtspCameraOptions): Array<string> => [
  SCRIPT,
  String(port),
  ...(options.basic === undefined ? [] : ["--basic", options.basic]),
  ...(options.digest === undefined ? [] : ["--digest", options.digest]),
  ...(options.udpOnly ? ["--udp-only"] : []),
  ...(options.sessionTimeout === undefined ? [] : ["--session-timeout", String(options.sessionTimeout)])
]

export const startRtspCamera = async (options: RtspCameraOptions = {}): Promise<RtspCamera> => {
  const port = options.port ?? await freePort()
  let child: ChildProcess | undefined
  let output = ""

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const started = spawn("/usr/bin/python3", argsFor(port, options), { stdio: ["ignore", "pipe", "pipe"] })
      child = started
      // Should the test process end without its finalizers (a crash), the camera must not outlive it.
      const orphanGuard = () => started.kill("SIGKILL")
      process.once("exit", orphanGuard)
      started.once("exit", () => process.off("exit", orphanGuard))
      let ready = false
      const timer = setTimeout(() => {
        started.kill("SIGKILL")
        reject(new Error(`rtsp-camera.py did not print READY in ${READY_TIMEOUT_MS} ms:\n${output}`))
      }, READY_TIMEOUT_MS)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (!ready && /^READY$/m.test(output.split("\n").slice(-3).join("\n"))) {
          ready = true
          clearTimeout(timer)
          resolve()
        }
      }
      started.stdout!.on("data", onData)
      started.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      started.once("exit", (code) => {
        clearTimeout(timer)
        if (!ready) reject(new Error(`rtsp-camera.py exited with ${code} before READY:\n${output}`))
      })
    })

  const end = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const running = child
      child = undefined
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return resolve()
      running.once("exit", () => resolve())
      process.kill(running.pid!, signal)
    })

  await launch()
  return {
    port,
    url: (mount, credentials) =>
      `rtsp://${credentials === undefined ? "" : `${credentials}@`}127.0.0.1:${port}${mount}`,
    requests: () => [...output.matchAll(/^REQUEST (\S+ \S+)$/gm)].map((m) => m[1]!),
    output: () => output,
    kill: () => end("SIGKILL"),
    restart: async () => {
      await end("SIGKILL")
      await launch()
    },
    stop: () => end("SIGTERM")
  }
}

/** The camera as a scoped resource: stopped when the test's scope closes, also when the test fails. */
export const rtspCamera = (options: RtspCameraOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startRtspCamera(options)),
    (camera) => Effect.promise(() => camera.stop())
  )
