/**
 * Latency of 10-second MP4 cuts (cutMp4) from a one-hour 1080p30 3 Mbit/s H.264 + AAC recording, at its start,
 * middle and end, against reading the whole file once: the cut's cost must follow the cut, not the recording.
 * The hour is the 20 s bench fixture looped with `ffmpeg -stream_loop -c copy -movflags +faststart` (moov first, as
 * Capstan records by default). Each case runs cold (the file's pages dropped from the page cache first, with
 * `dd iflag=nocache count=0`) and warm. Prints a Markdown table for BENCHMARKS.md ("MP4 cut latency").
 * Run: `npx node bench/mp4-cut.ts [--keep]` (the 1.4 GB hour is made under the OS temp dir, removed unless --keep).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { cutMp4, type CutMp4Result } from "../src/containers/isobmff/mp4-cut.ts"
import { readMp4Index } from "../src/containers/isobmff/mp4-index.ts"
import { ensureFixture } from "./flv-fixture.ts"

const HOUR = 3600
const CUT = 10
const RUNS = 5
const keep = process.argv.includes("--keep")
const dir = path.join(os.tmpdir(), "capstan-mp4-cut-bench")
const hour = path.join(dir, "hour-1080p30-3M-aac.mp4")
const WHOLE_READ_BLOCK = 4 * 1024 * 1024

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const makeHour = (): number => {
  fs.mkdirSync(dir, { recursive: true })
  if (fs.existsSync(hour)) return 0
  const fixture = ensureFixture()
  const started = performance.now()
  const partial = `${hour}.partial.mp4`
  const args = ["-hide_banner", "-v", "error", "-nostdin", "-y", "-stream_loop", "-1", "-i", fixture, "-t",
    String(HOUR), "-c", "copy", "-movflags", "+faststart", partial]
  const result = spawnSync("ffmpeg", args, { encoding: "utf8", timeout: 900_000 })
  if (result.status !== 0) throw new Error(`ffmpeg: ${result.stderr}`)
  fs.renameSync(partial, hour)
  return performance.now() - started
}

/** Drops the hour's pages from the page cache (posix_fadvise DONTNEED through GNU dd; no root, this file only). */
const evict = () => {
  const result = spawnSync("dd", [`if=${hour}`, "iflag=nocache", "count=0"], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`dd: ${result.stderr}`)
}

const timeCut = async (start: number, run: string): Promise<{ ms: number; result: CutMp4Result }> => {
  const target = path.join(dir, `cut-${start}-${run}.mp4`)
  const started = performance.now()
  const result = await Effect.runPromise(cutMp4({ source: hour, target, start, end: start + CUT }))
  const ms = performance.now() - started
  fs.rmSync(target)
  return { ms, result }
}

const timeIndex = async (): Promise<number> => {
  const started = performance.now()
  await Effect.runPromise(readMp4Index(hour))
  return performance.now() - started
}

/** Reads the whole file once in large blocks: what a cutter that scans the recording would pay at least. */
const timeWholeRead = (): number => {
  const started = performance.now()
  const fd = fs.openSync(hour, "r")
  const block = Buffer.allocUnsafe(WHOLE_READ_BLOCK)
  let position = 0
  for (;;) {
    const read = fs.readSync(fd, block, 0, block.length, position)
    if (read === 0) break
    position += read
  }
  fs.closeSync(fd)
  return performance.now() - started
}

/** ffmpeg's own stream-copy cut of the same range, for reference (process start included). */
const timeFfmpeg = (start: number): number => {
  const target = path.join(dir, `ffmpeg-${start}.mp4`)
  const started = performance.now()
  const args = ["-v", "error", "-nostdin", "-y", "-ss", String(start), "-i", hour, "-t", String(CUT), "-c", "copy",
    "-movflags", "+faststart", target]
  const result = spawnSync("ffmpeg", args, { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`ffmpeg cut: ${result.stderr}`)
  const ms = performance.now() - started
  fs.rmSync(target)
  return ms
}

/** `measure` RUNS times, each after evicting the file (cold) or not (warm): [median, min, max]. */
const runs = async (cold: boolean, measure: () => Promise<number> | number): Promise<[number, number, number]> => {
  const times: Array<number> = []
  for (let run = 0; run < RUNS; run++) {
    if (cold) evict()
    times.push(await measure())
  }
  return [median(times), Math.min(...times), Math.max(...times)]
}

const ms = ([med, min, max]: readonly [number, number, number]) =>
  `${med.toFixed(0)} ms (${min.toFixed(0)}-${max.toFixed(0)})`

const main = async () => {
  const made = makeHour()
  const size = fs.statSync(hour).size
  console.error(made > 0 ? `made the hour in ${(made / 1000).toFixed(1)} s` : "reusing the hour")
  // The first cut of a fresh process pays JIT warm-up (cold cache too); reported apart, kept out of the medians.
  evict()
  const first = await timeCut(60, "first")
  const rows: Array<string> = []
  for (const [label, start] of [["start", 10], ["middle", HOUR / 2], ["end", HOUR - CUT - 5]] as const) {
    let last: CutMp4Result | undefined
    const cut = async (tag: string) => {
      const { ms, result } = await timeCut(start, tag)
      last = result
      return ms
    }
    const cold = await runs(true, () => cut("cold"))
    const warm = await runs(false, () => cut("warm"))
    const ffmpegMs = median([0, 1, 2].map(() => timeFfmpeg(start)))
    const r = last!
    rows.push(
      `| 10 s cut at the ${label} (${start} s) | ${ms(cold)} | ${ms(warm)} | ${(r.bytes / 1e6).toFixed(1)} MB | ${
        (r.sourceBytesRead / 1e6).toFixed(1)
      } MB (${((100 * r.sourceBytesRead) / size).toFixed(2)}%) | ${r.durationSeconds.toFixed(2)} s from ${
        r.startSeconds.toFixed(2)
      } s | ${ffmpegMs.toFixed(0)} ms |`
    )
  }
  const indexCold = await runs(true, timeIndex)
  const indexWarm = await runs(false, timeIndex)
  const wholeCold = await runs(true, timeWholeRead)
  const wholeWarm = await runs(false, timeWholeRead)
  const load = os.loadavg().map((l) => l.toFixed(1)).join(" ")
  const cpu = os.cpus()[0]?.model ?? "unknown"
  console.log(`Machine: ${os.cpus().length} cores (${cpu}), Node ${process.version}, load average ${load}.`)
  const gb = (size / 1e9).toFixed(2)
  console.log(`Recording: ${gb} GB, ${HOUR} s; cut / recording length = ${(CUT / HOUR).toFixed(5)}.`)
  console.log("")
  console.log("| case | cold cache, median of 5 (range) | warm cache, median of 5 (range) | cut size | read from the " +
    "source | cut span | ffmpeg -ss -c copy, warm (median of 3) |")
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  console.log(`| first cut of a fresh process (60 s), cold cache and JIT | ${first.ms.toFixed(0)} ms | | | | | |`)
  for (const row of rows) console.log(row)
  console.log(`| index only (box headers + moov, parsed) | ${ms(indexCold)} | ${ms(indexWarm)} | | | | |`)
  const mb = (size / 1e6).toFixed(0)
  console.log(`| whole-file read, 4 MiB blocks | ${ms(wholeCold)} | ${ms(wholeWarm)} | | ${mb} MB (100%) | | |`)
  if (!keep) fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
