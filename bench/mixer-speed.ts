/**
 * How fast the offline mixer mixes against real time (BENCHMARKS.md "Offline mixer speed"): 2 and 4 participants
 * (640x360 testsrc2 at 30 fps + a sine each, the whole recording long, and one more variant where the second half
 * of them join half-way) into the default 1280x720 30 fps picture with names drawn, single-threaded (the default)
 * and with multithreading on. Median of 3 runs each; ffmpeg's peak RSS through /usr/bin/time.
 *
 *   npx node bench/mixer-speed.ts [seconds=20]
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, References } from "effect"
import { FetchHttpClient } from "effect/http"
import { defaultMixerSettings, type MixerSettings } from "../src/mixer/mixer-settings.ts"
import { mixMultiRecording } from "../src/mixer/offline-mixer.ts"
import { DiskSpace } from "../src/pipelines/disk-guard.ts"
import { buildMultiRecording, type FixtureTrack, stream } from "../test/fixtures/mixer/multi-recording.ts"

const SECONDS = Number(process.argv[2] ?? 20)
const RUNS = 3
const out = path.resolve("bench/out/mixer")
fs.mkdirSync(out, { recursive: true })

/** ffmpeg run through /usr/bin/time, which writes its peak RSS (KiB) to a file per run. */
const rssFile = path.join(out, "ffmpeg-rss.txt")
const wrapper = path.join(out, "ffmpeg-timed.sh")
fs.writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/time -f %M -o ${rssFile} /usr/bin/ffmpeg "$@"\n`, { mode: 0o755 })

const participants = (count: number, lateHalf: boolean): ReadonlyArray<FixtureTrack> =>
  Array.from({ length: count }, (_, i) => {
    const late = lateHalf && i >= count / 2
    return stream(`s${i}`, `participant-${i}`, late ? SECONDS / 2 : 0, late ? SECONDS / 2 : SECONDS, {
      size: "640x360",
      frequency: 300 + 110 * i
    })
  }).flat()

const median = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const layers = Layer.mergeAll(NodeServices.layer, DiskSpace.layer, FetchHttpClient.layer)

const measure = async (file: string, settings: MixerSettings) => {
  const walls: Array<number> = []
  const rss: Array<number> = []
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now()
    await Effect.runPromise(mixMultiRecording({
      file,
      settings,
      tools: { ffmpeg: wrapper, ffprobe: "/usr/bin/ffprobe" },
      progress: false
    }).pipe(Effect.provide(layers), Effect.provideService(References.MinimumLogLevel, "Warn")))
    walls.push((performance.now() - started) / 1000)
    rss.push(Number(fs.readFileSync(rssFile, "utf8").trim().split("\n").at(-1)) / 1024)
  }
  return { wall: median(walls), rss: median(rss) }
}

const ffmpegVersion = spawnSync("ffmpeg", ["-version"], { encoding: "utf8" }).stdout.split("\n")[0]
console.log(`# ${os.cpus()[0]?.model} x ${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
console.log(`# Node ${process.version}, ${ffmpegVersion}, ${SECONDS} s recordings, median of ${RUNS}`)
console.log("| participants | threads | wall s | speed (x real time) | ffmpeg peak RSS MiB |")
console.log("| --- | ---: | ---: | ---: | ---: |")
for (const [count, lateHalf] of [[2, false], [4, false], [4, true]] as const) {
  const file = path.join(out, `multi-${count}${lateHalf ? "-late" : ""}.mp4`)
  if (!fs.existsSync(file)) buildMultiRecording(file, participants(count, lateHalf))
  for (const threads of [1, 2]) {
    const settings = { ...defaultMixerSettings, minAvailableSpace: 0, multithreading: threads > 1 }
    const { wall, rss } = await measure(file, { ...settings, threadCount: threads })
    const who = `${count}${lateHalf ? ` (${count / 2} join at ${SECONDS / 2} s)` : ""}`
    console.log(`| ${who} | ${threads} | ${wall.toFixed(1)} | ${(SECONDS / wall).toFixed(2)} | ${rss.toFixed(0)} |`)
  }
}
