// The servers the load benchmark compares, each started as its own child process on a free loopback port: the plain
// Node sink (the floor), nginx-rtmp recording FLV (the baseline) and Capstan recording MP4.
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { listFiles } from "./frame-count.ts"
import { nginxRtmpMissing, startNginxRtmp } from "./nginx-rtmp.ts"
import { freePort, type ServerProcess, spawnServer, stopServer, waitForPort } from "./server-process.ts"

export type TargetName = "sink" | "nginx" | "capstan"
export const TARGET_NAMES: ReadonlyArray<TargetName> = ["sink", "nginx", "capstan"]

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..")
/** The Node 22 this script runs on (npx puts node_modules/.bin/node first), spawned directly: its PID is the server. */
const node = process.execPath

export interface RunningTarget {
  readonly name: TargetName
  readonly process: ServerProcess
  readonly port: number
  readonly app: string
  /** The sink never answers, so its publishers write blindly ("raw"). */
  readonly publishMode: "rtmp" | "raw"
  readonly recordDir: string
  /** The recordings of one stream, or undefined if this target's files cannot be counted (the sink's raw bytes). */
  readonly recordingsOf: ((streamName: string) => ReadonlyArray<string>) | undefined
  readonly stop: () => Promise<void>
}

export interface LoadTarget {
  readonly name: TargetName
  /** Why this target cannot run here, or undefined. */
  readonly missing: () => string | undefined
  readonly start: (workDir: string) => Promise<RunningTarget>
}

const startNodeServer = async (script: string, args: ReadonlyArray<string>, workDir: string, port: number) => {
  const server = spawnServer(node, [script, ...args], { cwd: repoRoot, logPath: join(workDir, "server.log") })
  try {
    await waitForPort(server, "127.0.0.1", port, 60_000)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  return server
}

const sink: LoadTarget = {
  name: "sink",
  missing: () => undefined,
  start: async (workDir) => {
    const port = await freePort()
    const recordDir = join(workDir, "records")
    const script = join(repoRoot, "bench", "plain-sink.ts")
    const server = await startNodeServer(script, ["--port", String(port), "--dir", recordDir], workDir, port)
    const stop = async () => void (await stopServer(server))
    const recordingsOf = undefined
    return { name: "sink", process: server, port, app: "live", publishMode: "raw", recordDir, recordingsOf, stop }
  }
}

const nginx: LoadTarget = {
  name: "nginx",
  missing: nginxRtmpMissing,
  start: async (workDir) => {
    const port = await freePort()
    const recordDir = join(workDir, "records")
    const running = await startNginxRtmp({ prefix: join(workDir, "nginx"), port, recordDir })
    const recordingsOf = (stream: string) => {
      const path = join(recordDir, `${stream}.flv`)
      return existsSync(path) ? [path] : []
    }
    const { process: server, stop } = running
    return { name: "nginx", process: server, port, app: "live", publishMode: "rtmp", recordDir, recordingsOf, stop }
  }
}

const capstanMain = join(repoRoot, "src", "main.ts")

/** Capstan's properties file (key names from the manual); {streamName} makes each recording <stream>.mp4. */
export const capstanConfig = (o: { rtmpPort: number; httpPort: number; recordDir: string }): string =>
  [
    `rtmp_port=${o.rtmpPort}`,
    `http_port=${o.httpPort}`,
    "bind_address=127.0.0.1",
    `record_dir=${o.recordDir}`,
    "stream_record_policy_template={streamName}",
    "file_recorder_min_space=1m",
    ""
  ].join("\n")

const capstan: LoadTarget = {
  name: "capstan",
  missing: () => (existsSync(capstanMain) ? undefined : `${capstanMain} does not exist yet`),
  start: async (workDir) => {
    const rtmpPort = await freePort()
    const httpPort = await freePort()
    const recordDir = join(workDir, "records")
    mkdirSync(recordDir, { recursive: true })
    const config = join(workDir, "capstan.properties")
    writeFileSync(config, capstanConfig({ rtmpPort, httpPort, recordDir }))
    const server = await startNodeServer(capstanMain, ["serve", "--config", config], workDir, rtmpPort)
    // Any file named after the stream, whatever extension or rotation suffix the recorder gives it.
    const recordingsOf = (stream: string) =>
      listFiles(recordDir).filter((path) => {
        const name = basename(path)
        const followedByDigit = /[0-9]/.test(name[stream.length] ?? "")
        return name.startsWith(stream) && !followedByDigit && /\.(mp4|mkv|webm|ts|flv)$/.test(name)
      })
    const stop = async () => void (await stopServer(server))
    return {
      name: "capstan",
      process: server,
      port: rtmpPort,
      app: "live",
      publishMode: "rtmp",
      recordDir,
      recordingsOf,
      stop
    }
  }
}

export const loadTargets: Record<TargetName, LoadTarget> = { sink, nginx, capstan }
