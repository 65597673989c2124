/**
 * `--show-tracks-info` on multi-recordings made by ffmpeg: a stream that joins late and one removed and added
 * again (two tracks each with the same mediaSessionId). Edits, ids and durations are judged against what the
 * fixture asked for and against ffprobe's start times and durations, within a frame.
 */
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readMultiRecording } from "../src/mixer/multi-recording.ts"
import { manualTrackJson, type MultiRecording, type TrackInfo, tracksInfoJson } from "../src/mixer/tracks-info.ts"
import { buildMultiRecording, fixtureDir, type FixtureTrack, stream } from "./fixtures/mixer/multi-recording.ts"
import { probe } from "./support/ffprobe.ts"

/** One frame at 30 fps, and AAC's 1024-sample priming at 48 kHz that ffmpeg leaves in a shifted track. */
const FRAME_MS = 34
const PRIMING_MS = 22

const tracks: ReadonlyArray<FixtureTrack> = [
  ...stream("s-alice", "alice", 0, 6, { color: "red" }),
  ...stream("s-bob", "bob x", 2, 4, { color: "blue", size: "160x120" }),
  ...stream("s-carol", "carol", 0.5, 1.5, { color: "lime" }),
  ...stream("s-carol", "carol", 4, 1.5, { color: "lime" })
]

const read = (file: string) =>
  Effect.runPromise(readMultiRecording(file, "/usr/bin/ffprobe").pipe(Effect.provide(NodeServices.layer)))

const startOf = (track: TrackInfo) => track.trackEdits.find((e) => e.type === "media")!.startInMs

describe.each(["mp4", "mkv"] as const)("tracks of a %s multi-recording", (container) => {
  let file = ""
  let recording: MultiRecording
  beforeAll(async () => {
    file = buildMultiRecording(path.join(fixtureDir("tracks"), `multi-recorder___room.${container}`), tracks, {
      container,
      audioCodec: container === "mkv" ? "opus" : "aac",
      creationTime: "2022-01-14T02:51:16Z"
    })
    recording = await read(file)
  }, 120_000)

  it("lists one track per stream and kind, in file order, with ids and owners", () => {
    assert.deepStrictEqual(
      recording.tracks.map((t) => [t.trackId, t.trackType, t.mediaSessionId, t.streamName]),
      tracks.map((t, i) => [i + 1, t.kind.toUpperCase(), t.mediaSessionId, t.streamName])
    )
  })

  it("starts late tracks with a pause and ends every track where its stream left, within a frame", () => {
    recording.tracks.forEach((track, i) => {
      const spec = tracks[i]!
      const slack = track.trackType === "AUDIO" ? FRAME_MS + PRIMING_MS : FRAME_MS
      const media = track.trackEdits.filter((e) => e.type === "media")
      const pauses = track.trackEdits.filter((e) => e.type === "pause")
      assert.strictEqual(media.length, 1, JSON.stringify(track.trackEdits))
      // A stream there from the start has no pause, or (MKV) less than a frame: ffmpeg's muxer moves every track
      // by Opus's 7 ms pre-skip so that no timestamp is negative.
      if (spec.start > 0 || pauses.length > 0) {
        assert.deepStrictEqual(pauses, [{ startInMs: 0, endInMs: startOf(track), type: "pause" }])
      }
      if (spec.start === 0) assert.isBelow(startOf(track), FRAME_MS)
      assert.approximately(startOf(track), spec.start * 1000, slack)
      assert.approximately(track.durationInMS, (spec.start + spec.duration) * 1000, slack)
      assert.strictEqual(track.trackEdits.at(-1)!.endInMs, track.durationInMS)
    })
  })

  it("agrees with ffprobe on each track's start and end", () => {
    const probed = probe(file).streams
    recording.tracks.forEach((track) => {
      const stream = probed[track.streamIndex]!
      const start = Math.max(0, Number(stream.start_time) * 1000)
      assert.approximately(startOf(track), start, FRAME_MS)
      if (stream.duration !== undefined) {
        assert.approximately(track.durationInMS, start + Number(stream.duration) * 1000, FRAME_MS)
      }
    })
  })

  it("reads sizes by the video and channels and rates by the audio", () => {
    const bobVideo = recording.tracks.find((t) => t.mediaSessionId === "s-bob" && t.trackType === "VIDEO")!
    assert.deepInclude(bobVideo, { width: 160, height: 120 })
    const aliceAudio = recording.tracks.find((t) => t.mediaSessionId === "s-alice" && t.trackType === "AUDIO")!
    assert.strictEqual(aliceAudio.sampleRate, 48_000)
    assert.strictEqual(aliceAudio.channels, 1)
    assert.strictEqual(recording.tracks[0]!.trackCodec, container === "mp4" ? "avc1" : "h264")
    assert.strictEqual(aliceAudio.trackCodec, container === "mp4" ? "mp4a" : "opus")
  })

  it("prints the manual's JSON: an array of tracks with string values", () => {
    const printed = JSON.parse(tracksInfoJson(recording))
    assert.strictEqual(printed.length, tracks.length)
    const bob = printed[2]
    assert.deepStrictEqual(Object.keys(bob).sort(), [
      "durationInMS", "height", "mediaSessionId", "streamName", "timescale", "trackCodec", "trackEdits", "trackId",
      "trackType", "width"
    ])
    assert.deepStrictEqual(bob.trackEdits.map((e: { type: string }) => e.type), ["pause", "media"])
    assert.strictEqual(bob.streamName, "bob x")
    assert.strictEqual(bob.trackId, "3")
    assert.match(bob.durationInMS, /^\d+$/)
    assert.deepStrictEqual(Object.keys(printed[1]).filter((k) => k === "channels" || k === "sampleRate"), [
      "channels", "sampleRate"
    ])
    assert.deepStrictEqual(manualTrackJson(recording.tracks[2]!), bob)
  })

  it("keeps the mvhd creation time of an MP4 (seconds since 1904)", () => {
    // 2022-01-14T02:51:16Z is 1642128676 s after 1970, 3724973476 after 1904: the manual's callback example.
    assert.strictEqual(recording.creationTime, container === "mp4" ? 3_724_973_476 : undefined)
    assert.approximately(recording.durationInMs, 6000, FRAME_MS + PRIMING_MS)
  })
})

describe("an input that is not a multi-recording", () => {
  it("fails with UnreadableInput naming the file", async () => {
    const file = path.join(fixtureDir("tracks-bad"), "notes.mp4")
    await import("node:fs").then((fs) => fs.writeFileSync(file, "not a movie"))
    const exit = await Effect.runPromiseExit(
      readMultiRecording(file, "/usr/bin/ffprobe").pipe(Effect.provide(NodeServices.layer))
    )
    assert.isTrue(exit._tag === "Failure")
    assert.match(JSON.stringify(exit), /UnreadableInput.*notes\.mp4.*no moov/)
  })
})
