// Renders the load benchmark's results as markdown and puts them in BENCHMARKS.md under "RTMP recording load",
// replacing only that section (other sections of the file belong to other benchmarks).
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import type { TargetName } from "./load-targets.ts"

export interface LostFrames {
  readonly min: number
  readonly median: number
  readonly max: number
  readonly total: number
}

export interface LoadResult {
  readonly target: TargetName
  readonly streams: number
  readonly seconds: number
  readonly cpuSeconds: number
  readonly cpuPerStreamMinute: number
  readonly peakRssBytes: number
  /** Video frames each stream sends when it publishes for the whole run. */
  readonly videoFramesDuePerStream: number
  /** Streams that sent fewer frames than due, because their publish failed or was cut. */
  readonly streamsSentShort: number
  /** Per stream: frames due minus frames ffprobe counts; undefined for the sink, whose bytes are no recording. */
  readonly lost: LostFrames | undefined
  readonly missingRecordings: number
  /** Recordings whose decoded frame count (ffprobe -count_frames) equals the frames sent, of those decoded. */
  readonly decodeCheck: string
  readonly publishErrors: number
  readonly firstPublishError: string | undefined
  readonly publisherMaxLateMs: number
  /** Share of all tags sent more than 100 ms behind their due moment. */
  readonly publisherLatePercent: number
  readonly publisherCpuSeconds: number
  /** Seconds between the last publisher closing and the server's files and CPU going quiet. */
  readonly drainSeconds: number
}

export const SECTION_TITLE = "RTMP recording load"

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0)
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a")

export const machineDescription = (): string => {
  const model = cpus()[0]?.model ?? "unknown CPU"
  let cores = String(cpus().length)
  try {
    cores = execFileSync("nproc").toString().trim()
  } catch {
    // nproc missing: keep os.cpus().
  }
  // nginx -v prints its version on stderr.
  const nginx = spawnSync("/usr/sbin/nginx", ["-v"], { encoding: "utf8" }).stderr?.trim().replace("nginx version: ", "")
  return `${cores} cores (${model}), Node ${process.version}, ${nginx || "nginx (version unknown)"} + libnginx-mod-rtmp`
}

const due = (r: LoadResult) => {
  const short = r.streamsSentShort === 0 ? "" : ` (${r.streamsSentShort} short)`
  return `${r.videoFramesDuePerStream}${short}`
}

export const resultsTable = (results: ReadonlyArray<LoadResult>): string => {
  const header =
    "| Target | Streams | CPU s | CPU s / stream-min | Peak RSS MB | Frames due / stream | " +
    "Lost min / median / max | " +
    "Decoded = due | Publish errors | Publisher max late ms | Tags > 100 ms late | Publisher CPU s | Drain s |"
  const rule = "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
  const rows = results.map((r) =>
    [
      r.target,
      r.streams,
      fixed(r.cpuSeconds, 2),
      fixed(r.cpuPerStreamMinute, 3),
      mb(r.peakRssBytes),
      due(r),
      r.lost === undefined ? "n/a (raw bytes)" : `${r.lost.min} / ${r.lost.median} / ${r.lost.max}`,
      r.decodeCheck,
      r.publishErrors,
      fixed(r.publisherMaxLateMs, 0),
      `${fixed(r.publisherLatePercent, 2)} %`,
      fixed(r.publisherCpuSeconds, 1),
      fixed(r.drainSeconds, 1)
    ].join(" | ")
  )
  return [header, rule, ...rows.map((row) => `| ${row} |`)].join("\n")
}

const find = (results: ReadonlyArray<LoadResult>, target: TargetName, streams: number) =>
  results.find((r) => r.target === target && r.streams === streams)

/** Capstan against the floor and the baseline, for each stream count where both ran in this run. */
export const ratiosTable = (results: ReadonlyArray<LoadResult>): string | undefined => {
  const counts = [...new Set(results.map((r) => r.streams))]
  const rows = counts.flatMap((n) => {
    const capstan = find(results, "capstan", n)
    if (capstan === undefined) return []
    const sink = find(results, "sink", n)
    const nginx = find(results, "nginx", n)
    const ratio = (other: LoadResult | undefined) =>
      other === undefined ? "n/a" : `${fixed(capstan.cpuPerStreamMinute / other.cpuPerStreamMinute, 2)}x`
    const rss = nginx === undefined ? "n/a" : `${fixed(capstan.peakRssBytes / nginx.peakRssBytes, 1)}x`
    const lost = capstan.lost === undefined ? "n/a" : String(capstan.lost.total)
    const cells = [ratio(sink), ratio(nginx), rss, mb(capstan.peakRssBytes), lost, capstan.publishErrors]
    return [`| ${n} | ${cells.join(" | ")} |`]
  })
  if (rows.length === 0) return undefined
  return [
    "| Streams | CPU capstan/sink (target ≤ 1.5x) | CPU capstan/nginx | RSS capstan/nginx | " +
      "Capstan peak RSS MB (target < 400 at 100) | Capstan lost frames, all streams (target 0) | " +
      "Capstan publish errors |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...rows
  ].join("\n")
}

const countDescription = (policy: string): string =>
  policy === "frames"
    ? "-count_frames (every recording decoded)"
    : policy === "packets"
      ? "-count_packets (demuxed, not decoded)"
      : "-count_packets for every recording, and -count_frames for the first, middle and last stream"

export interface RunSettings {
  readonly date: string
  readonly command: string
  readonly countPolicy: string
  /** 1-minute load average when the run started and ended: other work on the machine shares its cores. */
  readonly loadBefore: number
  readonly notes: ReadonlyArray<string>
}

const METHOD = `N concurrent real-time 1080p30 3 Mbit/s H.264 (High, B-frames, GOP 60) + AAC 44.1 kHz stereo RTMP
publishers, all driven by one Node process (bench/rtmp-publisher.ts, each connection paced by its own timer, the 20 s
fixture looped), publish to three servers run one after another as child processes on loopback: a plain Node TCP sink
that writes each connection's bytes to a file (the floor), nginx with one worker and libnginx-mod-rtmp \`record all\`
to FLV (the baseline), and Capstan recording MP4.

- CPU: the server's user+system time (/proc/PID/stat fields 14-17, summed over its process tree), from just before the
  first publisher connects until its files and CPU have gone quiet after the last one closed ("Drain s"); startup is
  excluded. CPU s / stream-min = CPU s / stream-minutes actually published (streams x minutes when none failed).
- Peak RSS: VmHWM from /proc/PID/status (for nginx, master + worker).
- Lost frames: video frames due in the run (30 per second) minus video frames ffprobe counts in that stream's
  recording (min / median / max over the streams). The publisher sends every due frame unless its publish fails, which
  shows in "Publish errors" and as "short" streams; such a stream counts what it could not send as lost.
  "Decoded = due": recordings whose decoded frame count equals the frames due.
- Publisher max late ms: the worst delay of a tag behind its real-time due moment, over all streams, and the share of
  tags sent more than 100 ms late: how well the load generator kept real time. Publisher CPU is the load generator's
  own CPU, which shares the machine's cores with the server.
- Runs vary 15-25 %: compare only figures measured back to back in the same run.

Run it: \`npx node bench/rtmp-load.ts [--streams 10,50,100] [--seconds 60] [--targets sink,nginx,capstan]
[--count sample|packets|frames] [--stagger 5] [--step-timeout 10000] [--keep] [--no-write]\`. The fixture is made
once into bench/out; per-stream results go to bench/out/load/results-*.json.`

export const sectionMarkdown = (results: ReadonlyArray<LoadResult>, settings: RunSettings): string => {
  const ratios = ratiosTable(results)
  return [
    `## ${SECTION_TITLE}`,
    "",
    METHOD,
    "",
    `### Latest run: ${settings.date}`,
    "",
    `Machine: ${machineDescription()}; 1-minute load average ${settings.loadBefore.toFixed(2)} before the run, ` +
      `${loadavg()[0]!.toFixed(2)} after.`,
    `Command: \`${settings.command}\`.`,
    `Recordings counted with ffprobe ${countDescription(settings.countPolicy)}.`,
    "",
    resultsTable(results),
    "",
    ...(ratios === undefined ? ["No Capstan figures in this run, so no ratios."] : [ratios]),
    ...(settings.notes.length > 0 ? ["", ...settings.notes.map((note) => `- ${note}`)] : []),
    ""
  ].join("\n")
}

/** Replaces the section (its heading up to the next level-2 heading) or appends it; creates the file if needed. */
export const writeSection = (path: string, section: string): void => {
  const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n"
  const lines = current.split("\n")
  const start = lines.findIndex((line) => line.trim() === `## ${SECTION_TITLE}`)
  if (start < 0) {
    writeFileSync(path, `${current.trimEnd()}\n\n${section.trimEnd()}\n`)
    return
  }
  const next = lines.findIndex((line, i) => i > start && /^## /.test(line))
  const before = lines.slice(0, start).join("\n").trimEnd()
  const after = next < 0 ? "" : `\n\n${lines.slice(next).join("\n").trimEnd()}`
  writeFileSync(path, `${before}\n\n${section.trimEnd()}${after}\n`)
}
