/**
 * Throughput and heap of a container writer on a 60 s, 3 Mbit/s H.264 + AAC source already in memory: the
 * numbers behind "the muxer is not a bottleneck". Used by bench/container-writers.ts.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { Effect } from "effect"
import type { ContainerFormat, ContainerWriter } from "../src/pipelines/container-format.ts"
import { ContainerWriteError } from "../src/pipelines/container-format.ts"
import { makeSource, readSourceFrames } from "../test/fixtures/containers/source-media.ts"

const BENCH_SECONDS = 60

/** A collector for honest heap numbers (no --expose-gc needed). */
const collect: () => void = (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

export interface WriterMeasurement {
  readonly packets: number
  readonly payloadMegabytes: number
  readonly fileMegabytes: number
  readonly pushSeconds: number
  readonly finalizeSeconds: number
  readonly megabytesPerSecond: number
  readonly heapBytesPerPacket: number
  readonly heapGrowthMegabytes: number
}

/** Pushes the source twice through `format` (waiting for the writer to settle each time) and finalizes it. */
export const measureWriter = (
  format: ContainerFormat,
  settled: (writer: ContainerWriter) => Promise<void>
): Effect.Effect<WriterMeasurement, ContainerWriteError> =>
  Effect.gen(function*() {
    // Cached across runs: a 60 s 720p encode costs tens of seconds on two cores.
    const cache = path.join(os.tmpdir(), "capstan-bench-sources")
    fs.mkdirSync(cache, { recursive: true })
    const source = makeSource(cache, "h264-aac.mp4", BENCH_SECONDS, [
      "-s", "1280x720", "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M", "-g", "60", "-b:a", "128k"
    ])
    const media = yield* Effect.promise(() => readSourceFrames([source], { video: 1000, audio: 1000 }))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-bench-"))
    const opened = format.open({ tmpPath: path.join(dir, "out.tmp"), tracks: media.tracks, creationTime: new Date() })
    if (opened instanceof ContainerWriteError) return yield* Effect.fail(opened)
    const writer = opened
    const payload = media.frames.reduce((sum, f) => sum + f.frame.data.byteLength, 0)
    // Two passes (the second shifted by the source's length): the heap is compared across the second one, so
    // what the first pass warms up (compiled code, buffers that reached their size) does not count.
    const heapAfterPass: Array<number> = []
    const start = performance.now()
    for (let pass = 0; pass < 2; pass++) {
      for (const { trackIndex, frame } of media.frames) {
        const shift = (pass * (BENCH_SECONDS + 1) * media.tracks[trackIndex]!.timescale)
        const error = writer.push(trackIndex, { ...frame, dts: frame.dts + shift, pts: frame.pts + shift })
        if (error !== undefined) return yield* Effect.fail(error)
      }
      yield* Effect.promise(() => settled(writer))
      collect()
      heapAfterPass.push(process.memoryUsage().heapUsed)
    }
    const pushed = performance.now()
    const heapBefore = heapAfterPass[0]!
    const heapAfter = heapAfterPass[1]!
    const file = yield* writer.finalize(path.join(dir, `out.${format.extension}`))
    const done = performance.now()
    fs.rmSync(dir, { recursive: true, force: true })
    return {
      packets: 2 * media.frames.length,
      payloadMegabytes: (2 * payload) / 1e6,
      fileMegabytes: file.bytes / 1e6,
      pushSeconds: (pushed - start) / 1000,
      finalizeSeconds: (done - pushed) / 1000,
      megabytesPerSecond: file.bytes / 1e6 / ((done - start) / 1000),
      heapBytesPerPacket: (heapAfter - heapBefore) / media.frames.length,
      heapGrowthMegabytes: (heapAfter - heapBefore) / 1e6
    }
  })
