// The RTMP recording load benchmark: for each stream count and each target server, start the server, publish N
// real-time streams from this process, wait for the server to finish writing, then read its CPU time and peak RSS
// and count the recorded frames with ffprobe. Results go to stdout, bench/out/load and BENCHMARKS.md.
// Usage: npx node bench/rtmp-load.ts [--streams 10,50,100] [--seconds 60] [--targets sink,nginx,capstan]
//        [--count sample|packets|frames] [--stagger 5] [--step-timeout 10000] [--keep] [--no-write]
// --step-timeout bounds each publisher protocol step (TCP connect, handshake, each command reply), in ms.
// --keep leaves the recordings in bench/out/load/<target>-<streams>/records (deleted after counting by default).
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { benchOutDir, ensureFixture, type FlvFixture, readFlvTags, videoFramesDue } from "./flv-fixture.ts"
import { type CountMode, countVideoFrames, totalSize } from "./frame-count.ts"
import {
  type LoadResult,
  type LostFrames,
  ratiosTable,
  resultsTable,
  sectionMarkdown,
  writeSection
} from "./load-report.ts"
import { loadTargets, type RunningTarget, TARGET_NAMES, type TargetName } from "./load-targets.ts"
import { readUsage } from "./proc-usage.ts"
import { publishMany, type PublishReport, streamNames } from "./rtmp-publisher.ts"
import { installCleanup } from "./server-process.ts"

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..")
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const DRAIN_TIMEOUT_MS = 120_000

/** Waits until the recordings stop growing and the server's CPU stops moving (bounded); returns the seconds waited. */
const waitUntilQuiet = async (target: RunningTarget, timeoutMs = DRAIN_TIMEOUT_MS): Promise<number> => {
  const start = performance.now()
  let size = totalSize(target.recordDir)
  let cpu = readUsage(target.process.pid).cpuSeconds
  let quietPolls = 0
  while (quietPolls < 3 && performance.now() - start < timeoutMs) {
    await sleep(500)
    const nextSize = totalSize(target.recordDir)
    const nextCpu = readUsage(target.process.pid).cpuSeconds
    quietPolls = nextSize === size && nextCpu - cpu <= 0.02 ? quietPolls + 1 : 0
    size = nextSize
    cpu = nextCpu
  }
  return (performance.now() - start) / 1000
}

const lostStats = (lost: ReadonlyArray<number>): LostFrames => {
  const sorted = [...lost].sort((a, b) => a - b)
  return {
    min: sorted[0] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
    total: sorted.reduce((a, b) => a + b, 0)
  }
}

/**
 * How recordings are counted: "frames" decodes every recording (ffprobe -count_frames, about 13 s of a core per minute
 * of 1080p here); "packets" demuxes them all (-count_packets, a fraction of a second); "sample" demuxes them all and
 * also decodes the first, middle and last one, to check that what was written decodes.
 */
export type CountPolicy = "frames" | "packets" | "sample"

/**
 * Frames lost per stream: the frames due for the run's duration minus those counted in the stream's recordings. A
 * stream whose publish failed (see publish errors) lost what it could not send; one without a recording lost all.
 */
const countLost = async (
  target: RunningTarget,
  reports: ReadonlyArray<PublishReport>,
  policy: CountPolicy,
  framesDue: number
) => {
  const recordingsOf = target.recordingsOf
  if (recordingsOf === undefined) {
    return { lost: undefined, missing: 0, decodeCheck: "n/a", notes: [] as Array<string>, perStream: [] }
  }
  const notes: Array<string> = []
  const count = async (files: ReadonlyArray<string>, mode: CountMode) => {
    let total = 0
    for (const file of files) {
      try {
        total += await countVideoFrames(file, mode)
      } catch (error) {
        notes.push(`${target.name}: ${(error as Error).message}`)
      }
    }
    return total
  }
  const sampled = new Set(policy === "sample" ? [0, Math.floor(reports.length / 2), reports.length - 1] : [])
  const lost: Array<number> = []
  let missing = 0
  let decoded = 0
  let decodedAsSent = 0
  for (const [i, report] of reports.entries()) {
    const files = recordingsOf(report.streamName)
    if (files.length === 0) missing += 1
    const recorded = await count(files, policy === "frames" ? "frames" : "packets")
    lost.push(framesDue - recorded)
    if (policy === "frames" || sampled.has(i)) {
      decoded += 1
      const frames = policy === "frames" ? recorded : await count(files, "frames")
      if (frames === framesDue) decodedAsSent += 1
    }
  }
  if (missing > 0) notes.push(`${target.name}: ${missing} of ${reports.length} streams left no recording`)
  const decodeCheck = decoded === 0 ? "not run" : `${decodedAsSent}/${decoded}`
  return { lost: lostStats(lost), missing, decodeCheck, notes, perStream: lost }
}

const runOne = async (
  name: TargetName,
  streams: number,
  options: {
    seconds: number
    fixture: FlvFixture
    countPolicy: CountPolicy
    staggerMs: number
    stepTimeoutMs: number
    keep: boolean
  }
): Promise<{ result: LoadResult; notes: Array<string>; streams: Array<StreamOutcome> }> => {
  const workDir = join(benchOutDir, "load", `${name}-${streams}`)
  rmSync(workDir, { recursive: true, force: true })
  mkdirSync(workDir, { recursive: true })
  const target = await loadTargets[name].start(workDir)
  let reports: Array<PublishReport>
  let cpuSeconds: number
  let peakRssBytes: number
  let publisherCpuSeconds: number
  let drainSeconds: number
  try {
    await sleep(1000)
    const before = readUsage(target.process.pid)
    const publisherCpu = process.cpuUsage()
    reports = await publishMany(
      {
        host: "127.0.0.1",
        port: target.port,
        app: target.app,
        fixture: options.fixture,
        durationMs: options.seconds * 1000,
        mode: target.publishMode,
        stepTimeoutMs: options.stepTimeoutMs
      },
      streamNames("bench", streams),
      options.staggerMs
    )
    const used = process.cpuUsage(publisherCpu)
    if (target.process.hasExited()) {
      throw new Error(`server exited during the run (${await target.process.exited}); see ${target.process.logPath}`)
    }
    publisherCpuSeconds = (used.user + used.system) / 1e6
    drainSeconds = await waitUntilQuiet(target)
    const after = readUsage(target.process.pid)
    cpuSeconds = after.cpuSeconds - before.cpuSeconds
    peakRssBytes = after.peakRssBytes
  } finally {
    await target.stop()
  }
  const framesDue = videoFramesDue(options.fixture, options.seconds * 1000)
  const counted = await countLost(target, reports, options.countPolicy, framesDue)
  const shortStreams = reports.filter((r) => r.videoFramesSent !== framesDue).length
  const errors = reports.filter((r) => r.error !== undefined)
  const sum = (f: (r: PublishReport) => number) => reports.reduce((total, r) => total + f(r), 0)
  const tagsSent = sum((r) => r.videoFramesSent + r.audioFramesSent)
  const notes = [...counted.notes]
  if (drainSeconds * 1000 >= DRAIN_TIMEOUT_MS) {
    notes.push(`${name}, ${streams} streams: busy ${DRAIN_TIMEOUT_MS / 1000} s after publishing; CPU undercounted`)
  }
  if (name === "sink") {
    const sent = sum((r) => r.bytesSent)
    notes.push(`sink, ${streams} streams: wrote ${totalSize(target.recordDir)} of ${sent} bytes sent`)
  }
  // About 24 MB per stream-minute: 100 streams for a minute leave 2.4 GB per target. Logs stay.
  if (!options.keep) rmSync(target.recordDir, { recursive: true, force: true })
  const result: LoadResult = {
    target: name,
    streams,
    seconds: options.seconds,
    cpuSeconds,
    // Stream-minutes actually published: a stream whose publish failed adds only what it sent.
    cpuPerStreamMinute: cpuSeconds / ((sum((r) => r.videoFramesSent) / framesDue) * (options.seconds / 60)),
    peakRssBytes,
    videoFramesDuePerStream: framesDue,
    streamsSentShort: shortStreams,
    lost: counted.lost,
    missingRecordings: counted.missing,
    decodeCheck: counted.decodeCheck,
    publishErrors: errors.length,
    firstPublishError: errors[0]?.error,
    publisherMaxLateMs: Math.max(...reports.map((r) => r.maxLateMs)),
    publisherLatePercent: (100 * sum((r) => r.lateTags)) / Math.max(1, tagsSent),
    publisherCpuSeconds,
    drainSeconds
  }
  if (result.firstPublishError !== undefined) {
    notes.push(`${name}, ${streams} streams: ${errors.length} publish errors, first: ${result.firstPublishError}`)
  }
  const recorded = (i: number) => (counted.lost === undefined ? undefined : framesDue - counted.perStream[i]!)
  const outcomes = reports.map((r, i) => ({ ...r, framesRecorded: recorded(i) }))
  return { result, notes, streams: outcomes }
}

/** One stream's publisher report and what ffprobe found of it, kept in the results JSON. */
type StreamOutcome = PublishReport & { readonly framesRecorded: number | undefined }

const parseList = (text: string) => text.split(",").map((s) => s.trim()).filter((s) => s.length > 0)

const main = async () => {
  const { values } = parseArgs({
    options: {
      streams: { type: "string", default: "10,50,100" },
      seconds: { type: "string", default: "60" },
      targets: { type: "string", default: TARGET_NAMES.join(",") },
      count: { type: "string", default: "sample" },
      stagger: { type: "string", default: "5" },
      "step-timeout": { type: "string", default: "10000" },
      "no-write": { type: "boolean", default: false },
      keep: { type: "boolean", default: false }
    }
  })
  const counts = parseList(values.streams).map(Number)
  const seconds = Number(values.seconds)
  const names = parseList(values.targets) as Array<TargetName>
  const countPolicy = values.count as CountPolicy
  const staggerMs = Number(values.stagger)
  const stepTimeoutMs = Number(values["step-timeout"])
  const bad = names.filter((n) => !TARGET_NAMES.includes(n))
  if (bad.length > 0 || counts.some((n) => !(n >= 1 && n <= 500)) || !(seconds >= 1 && seconds <= 3600)) {
    throw new Error(`bad arguments: targets ${TARGET_NAMES.join("|")}, streams 1-500, seconds 1-3600`)
  }
  if (!["frames", "packets", "sample"].includes(countPolicy)) {
    throw new Error("--count must be sample, packets or frames")
  }

  installCleanup()
  const loadBefore = loadavg()[0]!
  const fixture = readFlvTags(ensureFixture())
  const results: Array<LoadResult> = []
  const notes: Array<string> = []
  const perStream: Record<string, Array<StreamOutcome>> = {}
  const runnable = names.filter((name) => {
    const missing = loadTargets[name].missing()
    if (missing !== undefined) {
      console.error(`skipping target ${name}: ${missing}`)
      notes.push(`Skipped ${name}: ${missing}.`)
    }
    return missing === undefined
  })
  for (const streams of counts) {
    for (const name of runnable) {
      console.error(`${name}: ${streams} streams x ${seconds} s ...`)
      try {
        const options = { seconds, fixture, countPolicy, staggerMs, stepTimeoutMs, keep: values.keep }
        const run = await runOne(name, streams, options)
        results.push(run.result)
        perStream[`${name}-${streams}`] = run.streams
        notes.push(...run.notes)
        console.error(resultsTable([run.result]).split("\n")[2])
      } catch (error) {
        // One target failing (a crash, a refused start) is a result too; the others still run.
        const message = error instanceof Error ? error.message : String(error)
        console.error(`${name}, ${streams} streams failed: ${message}`)
        notes.push(`${name}, ${streams} streams: FAILED, ${message}`)
      }
    }
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  const command = `npx node bench/rtmp-load.ts ${process.argv.slice(2).join(" ")}`.trim()
  mkdirSync(join(benchOutDir, "load"), { recursive: true })
  writeFileSync(join(benchOutDir, "load", `results-${date}.json`), JSON.stringify({ date, results, notes, perStream }))
  console.log(resultsTable(results))
  const ratios = ratiosTable(results)
  if (ratios !== undefined) console.log(`\n${ratios}`)
  for (const note of notes) console.log(`- ${note}`)
  if (!values["no-write"]) {
    const section = sectionMarkdown(results, { date, command, countPolicy, loadBefore, notes })
    writeSection(join(repoRoot, "BENCHMARKS.md"), section)
    console.error("BENCHMARKS.md updated")
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exit(1)
})
