/**
 * The mixing command as a pure function of the tracks: which segment reads which tracks, that the pieces add up to
 * exactly the file's frames and samples, and that filter values survive ffmpeg's two levels of escaping (checked by
 * drawing a label from paths full of `:`, `'`, `,`, `[` and `;` with the real ffmpeg).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { labelFilter, mixCommandArgs, type MixPlanRequest, planMix } from "../src/mixer/filter-graph.ts"
import { DEJAVU_SANS } from "../src/mixer/stream-label.ts"
import { editsFromSpan, type MultiRecording, type TrackInfo } from "../src/mixer/tracks-info.ts"
import { fixtureDir } from "./fixtures/mixer/multi-recording.ts"

const track = (id: number, kind: "VIDEO" | "AUDIO", session: string, start: number, end: number): TrackInfo => ({
  trackId: id,
  streamIndex: id - 1,
  trackType: kind,
  streamName: session,
  mediaSessionId: session,
  durationInMS: end,
  timescale: kind === "VIDEO" ? 90_000 : 48_000,
  trackCodec: kind === "VIDEO" ? "avc1" : "mp4a",
  trackEdits: editsFromSpan(start, end),
  ...(kind === "VIDEO" ? { width: 320, height: 240 } : { channels: 1, sampleRate: 48_000 })
})

const recording: MultiRecording = {
  file: "/r/multi.mp4",
  container: "mp4",
  durationInMs: 6000,
  creationTime: 0,
  tracks: [
    track(1, "VIDEO", "alice", 0, 6000),
    track(2, "AUDIO", "alice", 0, 6000),
    track(3, "VIDEO", "bob", 2000, 6000),
    track(4, "AUDIO", "bob", 1978, 6000),
    track(5, "VIDEO", "carol", 500, 2000),
    track(6, "AUDIO", "carol", 500, 2000),
    track(7, "VIDEO", "carol", 4000, 5500),
    track(8, "AUDIO", "carol", 4000, 5500)
  ]
}

const request: MixPlanRequest = {
  recording,
  hasVideo: true,
  hasAudio: true,
  width: 1280,
  height: 720,
  fps: 30,
  labels: new Map([["alice", "alice"]]),
  labelFile: (id) => `/tmp/label-${id}.txt`,
  font: { _tag: "File", path: DEJAVU_SANS }
}

const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)

describe("planMix", () => {
  const plan = planMix(request)

  it("cuts where someone joins or leaves, and where an audio track starts", () => {
    assert.deepStrictEqual(plan.segments.map((s) => [s.start * 30, s.end * 30, s.present.join(",")]), [
      [0, 15, "alice"],
      [15, 59, "alice,carol"],
      [59, 60, "alice,carol"],
      [60, 120, "alice,bob"],
      [120, 165, "alice,carol,bob"],
      [165, 180, "alice,bob"]
    ])
  })

  it("reads each segment's own tracks: the re-added stream's second track after its return", () => {
    const ids = plan.segments.map((s) => [s.videoTracks.map((t) => t.trackId), s.audioTracks.map((t) => t.trackId)])
    assert.deepStrictEqual(ids, [
      [[1], [2]],
      [[1, 5], [2, 6]],
      [[1, 5], [2, 4, 6]],
      [[1, 3], [2, 4]],
      [[1, 7, 3], [2, 4, 8]],
      [[1, 3], [2, 4]]
    ])
    assert.deepStrictEqual(plan.inputs, plan.segments.map((s) => ({ start: s.start, end: s.end })))
  })

  it("adds up to exactly the file's frames and samples", () => {
    const frames = [...plan.filterScript.matchAll(/color=[^;]*trim=end_frame=(\d+)/g)].map((m) => Number(m[1]))
    // Each segment's picture is cut to its black picture's frames again: overlay would go on with a participant.
    const cut = [...plan.filterScript.matchAll(/trim=end_frame=(\d+),format=yuv420p\[v\d+\]/g)].map((m) => Number(m[1]))
    assert.deepStrictEqual(cut, frames)
    const samples = [...plan.filterScript.matchAll(/atrim=end_sample=(\d+)/g)].map((m) => Number(m[1]))
    assert.strictEqual(sum(frames), 180)
    assert.strictEqual(sum(samples), 6 * 48_000)
    assert.strictEqual(plan.duration, 6)
    assert.match(plan.filterScript, /concat=n=6:v=1:a=1\[vout\]\[aout\]\n$/)
    assert.deepStrictEqual(plan.outputs, ["[vout]", "[aout]"])
  })

  it("mixes audio without normalising and draws only the labels it has", () => {
    assert.strictEqual([...plan.filterScript.matchAll(/amix=[^;]*normalize=0/g)].length, 6)
    assert.strictEqual([...plan.filterScript.matchAll(/drawtext=/g)].length, 6, "alice's cell in each segment")
  })

  it("opens each segment's input half a second early, seeking by timestamp, and drops the pre-roll again", () => {
    const options = { file: "/r/multi.mp4", output: "/r/out.mp4", filterScriptPath: "/g", fps: 30, threads: 1 }
    const args = mixCommandArgs(plan, options)
    // Each input: the flag, where it opens and where it ends (-ss + -t).
    const opened = args.flatMap((arg, i) =>
      arg === "-i" ? [[args[i - 6], args[i - 5], Number(args[i - 3]), Number(args[i - 3]) + Number(args[i - 1])]] : [])
    // Segments start at 0, 0.5, 1.9667, 2, 4 and 5.5 s; the first ones cannot open earlier than the file.
    const rounded = opened.map(([flag, on, from, end]) => [flag, on, from, Number((end as number).toFixed(4))])
    assert.deepStrictEqual(rounded, [
      ["-seek_timestamp", "1", 0, 0.5],
      ["-seek_timestamp", "1", 0, 1.9667],
      ["-seek_timestamp", "1", 1.466667, 2],
      ["-seek_timestamp", "1", 1.5, 4],
      ["-seek_timestamp", "1", 3.5, 5.5],
      ["-seek_timestamp", "1", 5, 6]
    ])
    assert.include(plan.filterScript, "[2:4]fps=30:start_time=0.5,setpts=PTS-0.5/TB,scale=")
    assert.include(plan.filterScript, "[2:3]atrim=start=0.5,asetpts=PTS-0.5/TB,aresample=")
  })

  it("keeps a participant whose video goes on in a new track (a new resolution) on screen across the gap", () => {
    const changed = planMix({
      ...request,
      recording: {
        ...recording,
        durationInMs: 3000,
        tracks: [
          track(1, "VIDEO", "dan", 0, 1000),
          track(2, "AUDIO", "dan", 0, 3000),
          track(3, "VIDEO", "dan", 1200, 3000)
        ]
      }
    })
    const segments = changed.segments.map((s) =>
      [s.start * 30, s.end * 30, s.present, s.videoTracks.map((t) => t.trackId)]
    )
    assert.deepStrictEqual(segments, [
      [0, 30, ["dan"], [1]],
      [30, 36, ["dan"], [1]],
      [36, 90, ["dan"], [3]]
    ])
  })

  it("leaves the picture or the sound out when asked", () => {
    const audioOnly = planMix({ ...request, hasVideo: false })
    assert.deepStrictEqual(audioOnly.outputs, ["[aout]"])
    assert.notMatch(audioOnly.filterScript, /overlay|color=/)
    assert.match(audioOnly.filterScript, /concat=n=\d+:v=0:a=1\[aout\]/)
    const videoOnly = planMix({ ...request, hasAudio: false })
    assert.deepStrictEqual(videoOnly.outputs, ["[vout]"])
    assert.notMatch(videoOnly.filterScript, /amix|anullsrc/)
    assert.deepStrictEqual(videoOnly.segments.map((s) => s.start * 30), [0, 15, 60, 120, 165])
  })
})

describe("labelFilter", () => {
  const whitePixels = (filter: string, dir: string): number => {
    const script = path.join(dir, "graph.txt")
    fs.writeFileSync(script, `color=c=black:s=320x240:d=0.1,${filter}[out]\n`)
    const result = spawnSync("ffmpeg", [
      "-v", "error", "-filter_complex_script", script, "-map", "[out]", "-frames:v", "1", "-f", "rawvideo",
      "-pix_fmt", "gray", "-"
    ], { timeout: 30_000 })
    assert.strictEqual(result.status, 0, String(result.stderr))
    return [...result.stdout].filter((value) => value > 200).length
  }

  it("draws the text of a file whose path and font path hold the graph's special characters", () => {
    const dir = path.join(fixtureDir("label"), "a:b'c,d[e];f g")
    fs.mkdirSync(dir)
    const font = path.join(dir, "font:1's.ttf")
    fs.copyFileSync(DEJAVU_SANS, font)
    const label = path.join(dir, "label [1].txt")
    fs.writeFileSync(label, "Bob's %{pts} [x]")
    assert.isAbove(whitePixels(labelFilter({ _tag: "File", path: font }, label, 240), dir), 30)
    fs.writeFileSync(label, "")
    assert.strictEqual(whitePixels(labelFilter({ _tag: "File", path: font }, label, 240), dir), 0)
  })
})
