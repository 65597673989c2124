/**
 * Throughput and heap per packet of the MKV and MPEG-TS writers on 60 s of 3 Mbit/s H.264 + AAC, three runs each,
 * medians printed as a markdown table for BENCHMARKS.md ("Container writers"). Run: npx node bench/container-writers.ts
 */
import * as os from "node:os"
import { Effect } from "effect"
import { matroskaFormat } from "../src/containers/matroska/index.ts"
import type { MkvWriter } from "../src/containers/matroska/mkv/mkv-writer.ts"
import { mpegTsFormat, type MpegTsWriter } from "../src/containers/mpeg-ts/index.ts"
import { measureWriter, type WriterMeasurement } from "./container-writers-measure.ts"

const RUNS = 3
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const writers = [
  { name: "MKV (ours)", measure: () => measureWriter(matroskaFormat("mkv"), (w) => (w as MkvWriter).settled()) },
  { name: "MPEG-TS (ours)", measure: () => measureWriter(mpegTsFormat(), (w) => (w as MpegTsWriter).settled()) }
]

const program = Effect.gen(function*() {
  const rows: Array<string> = []
  for (const writer of writers) {
    const runs: Array<WriterMeasurement> = []
    for (let i = 0; i < RUNS; i++) runs.push(yield* writer.measure())
    rows.push(
      `| ${writer.name} | ${median(runs.map((r) => r.megabytesPerSecond)).toFixed(0)} | ` +
        `${median(runs.map((r) => r.heapBytesPerPacket)).toFixed(1)} | ${median(runs.map((r) => r.finalizeSeconds)).toFixed(2)} |`
    )
  }
  console.log(`Machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}, Node ${process.version}; medians of ${RUNS} runs.\n`)
  console.log("| writer | MB/s | heap bytes per packet (2nd pass) | finalize s |")
  console.log("| --- | --- | --- | --- |")
  for (const row of rows) console.log(row)
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
