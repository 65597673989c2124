// A short, repeatable CPU comparison of RTMP recording against the plain TCP sink: for each run and each target, start
// the server (bench/load-targets.ts), publish N real-time streams, wait until it is quiet, and read the CPU seconds of
// its process tree from procfs. No frame counting (bench/rtmp-load.ts does that): only CPU, so it runs in minutes.
// Usage: npx node bench/rtmp-cpu.ts [--streams 10] [--seconds 25] [--runs 3] [--targets sink,capstan]
// CPU seconds, not wall time, is the metric: the machine may be shared, and other work shows as noise in the spread.
// The main thread's share is shown apart: V8's concurrent marking runs on helper threads and swings the total by
// seconds from run to run, while the main thread's time follows the code that handles the streams.
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { benchOutDir, ensureFixture, readFlvTags } from "./flv-fixture.ts"
import { totalSize } from "./frame-count.ts"
import { loadTargets, TARGET_NAMES, type TargetName } from "./load-targets.ts"
import { readUsage } from "./proc-usage.ts"
import { publishMany, streamNames } from "./rtmp-publisher.ts"
import { installCleanup } from "./server-process.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "10" },
    seconds: { type: "string", default: "25" },
    runs: { type: "string", default: "3" },
    targets: { type: "string", default: "sink,capstan" }
  }
})
const streams = Number(values.streams)
const seconds = Number(values.seconds)
const runs = Number(values.runs)
const names = values.targets.split(",").map((s) => s.trim()) as Array<TargetName>
if (
  names.some((n) => !TARGET_NAMES.includes(n)) || !(streams >= 1 && streams <= 200) || !(seconds >= 1 && seconds <= 600) ||
  !(runs >= 1 && runs <= 10)
) {
  throw new Error(`bad arguments: targets ${TARGET_NAMES.join("|")}, streams 1-200, seconds 1-600, runs 1-10`)
}

/** Until the recordings stop growing and the CPU stops moving (three quiet polls), at most 60 s. */
const waitUntilQuiet = async (pid: number, dir: string) => {
  let size = totalSize(dir)
  let cpu = readUsage(pid).cpuSeconds
  for (let quiet = 0, polls = 0; quiet < 3 && polls < 120; polls++) {
    await sleep(500)
    const nextSize = totalSize(dir)
    const nextCpu = readUsage(pid).cpuSeconds
    quiet = nextSize === size && nextCpu - cpu <= 0.02 ? quiet + 1 : 0
    size = nextSize
    cpu = nextCpu
  }
}

/** User + system seconds of the main thread (proc(5): /proc/PID/task/PID/stat fields 14, 15; USER_HZ is 100). */
const mainThreadSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "latin1")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

installCleanup()
const fixture = readFlvTags(ensureFixture())
const cpu: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
const mainCpu: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
console.error(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`)
for (let run = 1; run <= runs; run++) {
  for (const name of names) {
    const workDir = join(benchOutDir, "cpu", name)
    rmSync(workDir, { recursive: true, force: true })
    mkdirSync(workDir, { recursive: true })
    const target = await loadTargets[name].start(workDir)
    try {
      await sleep(1000)
      const before = readUsage(target.process.pid).cpuSeconds
      const mainBefore = mainThreadSeconds(target.process.pid)
      const reports = await publishMany({
        host: "127.0.0.1",
        port: target.port,
        app: target.app,
        fixture,
        durationMs: seconds * 1000,
        mode: target.publishMode
      }, streamNames("cpu", streams), 5)
      await waitUntilQuiet(target.process.pid, target.recordDir)
      const used = readUsage(target.process.pid).cpuSeconds - before
      const mainUsed = mainThreadSeconds(target.process.pid) - mainBefore
      const errors = reports.filter((r) => r.error !== undefined)
      cpu[name]!.push(used)
      mainCpu[name]!.push(mainUsed)
      const load = loadavg()[0]!.toFixed(2)
      console.log(
        `run ${run} ${name}: ${used.toFixed(2)} CPU s (main thread ${mainUsed.toFixed(2)}), ` +
          `${errors.length} publish errors, load ${load}`
      )
      if (errors.length > 0) console.log(`  first error: ${errors[0]!.error}`)
    } finally {
      await target.stop()
      rmSync(workDir, { recursive: true, force: true })
    }
  }
}
const list = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(2)).join(", ")
for (const name of names) {
  console.log(`${name}: median ${median(cpu[name]!).toFixed(2)} CPU s of [${list(cpu[name]!)}]`)
  console.log(`${name}: main thread median ${median(mainCpu[name]!).toFixed(2)} s of [${list(mainCpu[name]!)}]`)
}
if (cpu.sink !== undefined && cpu.capstan !== undefined) {
  const ratio = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => (median(a) / median(b)).toFixed(2)
  console.log(`capstan/sink: ${ratio(cpu.capstan, cpu.sink)}x (main thread ${ratio(mainCpu.capstan!, mainCpu.sink!)}x)`)
}
console.error(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`)
