/**
 * The MPEG-TS demuxer against ffmpeg-made transport streams, judged by ffprobe's view of the same files: frame
 * counts, keyframes, timestamps; then damaged and restarted streams.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import type { AudioTrack, Frame, VideoTrack } from "../src/media/frame.ts"
import { frameProblem } from "../src/pipelines/frame-check.ts"
import { TS_CLOCK } from "../src/protocols/mpegts/timestamp-timeline.ts"
import { toAdts, toAnnexB } from "./fixtures/rtmp/elementary-streams.ts"
import {
  type Demuxed,
  demuxAll,
  ofKind,
  packetList,
  seededBytes,
  withFlippedByte,
  withGarbage,
  withoutPacket
} from "./fixtures/mpegts/ts-streams.ts"
import { countFrames, packets, type ProbedPacket } from "./support/ffprobe.ts"
import { encodeMpegTs } from "./support/mpegts-sender.ts"

let dir = ""
const files = { plain: "", bframes: "", shifted: "", resized: "", wrap: "", renumbered: "" }
const bytesOf = (file: string) => new Uint8Array(fs.readFileSync(file))

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mpegts-demux-"))
  files.plain = encodeMpegTs(path.join(dir, "plain.ts"), { seconds: 2 })
  files.bframes = encodeMpegTs(path.join(dir, "bframes.ts"), { seconds: 2, bframes: 2 })
  files.shifted = encodeMpegTs(path.join(dir, "shifted.ts"), { seconds: 2, tsOffsetSeconds: 1000 })
  files.resized = encodeMpegTs(path.join(dir, "resized.ts"), { seconds: 2, size: "480x270" })
  // Another program number, PMT PID, elementary PIDs and table version, as a differently set up sender would use.
  files.renumbered = encodeMpegTs(path.join(dir, "renumbered.ts"), {
    seconds: 2,
    muxerArgs: [
      "-tables_version", "3", "-mpegts_service_id", "7", "-mpegts_pmt_start_pid", "0x1100", "-mpegts_start_pid", "0x200"
    ]
  })
  // 2^33 ticks are 95443.7 s: this file's timestamps wrap around in its second second.
  files.wrap = encodeMpegTs(path.join(dir, "wrap.ts"), { seconds: 3, tsOffsetSeconds: 95442 })
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const keyframeIndexes = (frames: ReadonlyArray<{ readonly keyframe: boolean }>) =>
  frames.flatMap((f, i) => (f.keyframe ? [i] : []))

const assertNonDecreasing = (frames: ReadonlyArray<Frame>, label: string) => {
  for (let i = 1; i < frames.length; i++) {
    assert.isAtLeast(frames[i]!.dts, frames[i - 1]!.dts, `${label} dts at ${i}`)
  }
}

/** Our frames equal ffprobe's packets: same count, keyframes, dts and pts (video in 90 kHz, audio in samples). */
const assertMatchesProbe = (demuxed: Demuxed, file: string, shift = 0) => {
  const probedVideo = packets(file, 0)
  const probedAudio = packets(file, 1)
  const video = ofKind(demuxed, "video")
  const audio = ofKind(demuxed, "audio")
  assert.strictEqual(video.length, probedVideo.length, "video frame count")
  assert.deepStrictEqual(keyframeIndexes(video), keyframeIndexes(probedVideo), "video keyframes")
  assert.deepStrictEqual(video.map((f) => f.pts - shift), probedVideo.map((p) => p.pts), "video pts in decode order")
  assert.deepStrictEqual(video.map((f) => f.dts - shift), probedVideo.map((p) => p.dts), "video dts")
  assert.strictEqual(audio.length, probedAudio.length, "audio frame count")
  const rate = (demuxed.tracks.find((t) => t.track.kind === "audio")!.track as AudioTrack).sampleRate
  // ffprobe spreads a PES's frames in 90 kHz ticks, we in samples: at most one sample apart after rounding.
  probedAudio.forEach((p: ProbedPacket, i) => {
    const expected = ((p.pts + shift) * rate) / TS_CLOCK
    assert.isAtMost(Math.abs(audio[i]!.pts - expected), 1, `audio pts of frame ${i}`)
  })
}

/** ffprobe decodes what we delivered, written back out as Annex-B and ADTS. */
const assertDecodable = (demuxed: Demuxed) => {
  const video = demuxed.tracks.find((t) => t.track.kind === "video")!.track as VideoTrack
  const audio = demuxed.tracks.find((t) => t.track.kind === "audio")!.track as AudioTrack
  fs.writeFileSync(path.join(dir, "out.h264"), toAnnexB(video, ofKind(demuxed, "video")))
  fs.writeFileSync(path.join(dir, "out.aac"), toAdts(audio, ofKind(demuxed, "audio")))
  assert.strictEqual(countFrames(path.join(dir, "out.h264"), 0), ofKind(demuxed, "video").length)
  assert.strictEqual(countFrames(path.join(dir, "out.aac"), 0), ofKind(demuxed, "audio").length)
}

describe("TsDemuxer on ffmpeg-made files", () => {
  const cases = [["without B-frames", "plain"], ["with B-frames", "bframes"]] as const
  it.each(cases)("demuxes H.264 + AAC %s", (_, name) => {
    const demuxed = demuxAll(bytesOf(files[name]))
    assert.sameDeepMembers(
      demuxed.tracks.map(({ track }) =>
        track.kind === "video"
          ? [track.codec, track.timescale, track.width, track.height]
          : [track.codec, track.timescale, track.sampleRate, track.channels]
      ),
      [["H264", 90000, 320, 240], ["AAC", 44100, 44100, 1]]
    )
    // Each track is declared right before its first frame.
    for (const { before, track } of demuxed.tracks) {
      assert.strictEqual(demuxed.frames.findIndex((f) => f.kind === track.kind), before, track.kind)
    }
    assertMatchesProbe(demuxed, files[name])
    assertDecodable(demuxed)
    // What the recorder checks before muxing: AVCC that tiles each frame, no empty frames.
    for (const frame of demuxed.frames) {
      assert.isUndefined(frameProblem(frame.kind === "video" ? "H264" : "AAC", frame), `${frame.kind} at ${frame.dts}`)
    }
    assert.strictEqual(demuxed.counters.ccErrors, 0)
    assert.strictEqual(demuxed.counters.garbageBytes, 0)
    if (name === "bframes") assert.isTrue(ofKind(demuxed, "video").some((f) => f.pts > f.dts), "reordered frames")
  })

  it("gives the same frames whatever the chunking of the byte stream", () => {
    const bytes = bytesOf(files.bframes)
    const whole = demuxAll(bytes, { chunkSize: bytes.length })
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }), (chunks) => {
        const demuxed = demuxAll(bytes, { chunks })
        assert.deepStrictEqual(demuxed.frames, whole.frames)
        assert.deepStrictEqual(demuxed.counters, whole.counters)
      }),
      { numRuns: 25 }
    )
  })

  it("unwraps the 33-bit timestamps into one rising timeline", () => {
    const demuxed = demuxAll(bytesOf(files.wrap))
    assert.strictEqual(demuxed.counters.timestampJumps, 0)
    // ffprobe counts the start as below zero instead; the two differ by exactly 2^33 ticks throughout.
    assertMatchesProbe(demuxed, files.wrap, 2 ** 33)
    const video = ofKind(demuxed, "video")
    assert.isAbove(video.at(-1)!.dts, 2 ** 33, "crossed the wrap")
  })
})

/** The video PID: it carries most of the packets. */
const busiestPid = (list: ReturnType<typeof packetList>): number => {
  const counts = new Map<number, number>()
  for (const p of list) counts.set(p.pid, (counts.get(p.pid) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0]
}

describe("TsDemuxer on damaged streams", () => {
  it("drops only the PES that lost a packet, and counts the continuity gap", () => {
    const bytes = bytesOf(files.plain)
    const clean = demuxAll(bytes)
    const list = packetList(bytes)
    const videoPid = busiestPid(list)
    // A packet in the middle of a PES (not its first), some way into the stream.
    const victim = list.find((p) => p.index > list.length / 2 && p.pid === videoPid && !p.unitStart && p.hasPayload)!
    const damaged = demuxAll(withoutPacket(bytes, victim.index))
    assert.strictEqual(damaged.counters.ccErrors, 1)
    const cleanVideo = ofKind(clean, "video")
    const video = ofKind(damaged, "video")
    assert.strictEqual(video.length, cleanVideo.length - 1)
    const lost = cleanVideo.filter((f) => !video.some((g) => g.dts === f.dts))
    assert.strictEqual(lost.length, 1)
    assert.deepStrictEqual(video, cleanVideo.filter((f) => f !== lost[0]))
    assert.deepStrictEqual(ofKind(damaged, "audio"), ofKind(clean, "audio"))
  })

  it("skips garbage between packets, counting it, and loses nothing", () => {
    const bytes = bytesOf(files.bframes)
    const clean = demuxAll(bytes)
    const count = bytes.length / 188
    fc.assert(
      fc.property(
        // Out of sync, a packet is believed only when another sync byte (or the end) follows it, so a packet right
        // after garbage needs no garbage right after it; the first packet counts as coming after garbage.
        fc.uniqueArray(fc.integer({ min: 0, max: count }), { minLength: 1, maxLength: 8 })
          .map((positions) =>
            positions.sort((a, b) => a - b).filter((at, i, all) => at !== 1 && at - (all[i - 1] ?? -2) >= 2)
          )
          .filter((positions) => positions.length > 0)
          .chain((positions) =>
            fc.tuple(
              ...positions.map((at) => fc.record({ at: fc.constant(at), length: fc.integer({ min: 1, max: 600 }) }))
            )
          ),
        fc.integer(),
        (inserts, seed) => {
          // Without 0x47 the garbage cannot pass for a packet; see the next test for garbage that can.
          const random = seededBytes(seed)
          const garbage = inserts.map(({ at, length }) => ({ at, garbage: random(length, 0x47) }))
          const demuxed = demuxAll(withGarbage(bytes, garbage))
          assert.deepStrictEqual(demuxed.frames, clean.frames)
          assert.strictEqual(demuxed.counters.garbageBytes, garbage.reduce((n, g) => n + g.garbage.length, 0))
          assert.strictEqual(demuxed.counters.syncLosses, garbage.length)
        }
      ),
      { numRuns: 30 }
    )
  })

  it("survives garbage full of sync bytes and random datagrams, with a valid output", () => {
    const bytes = bytesOf(files.plain)
    const clean = demuxAll(bytes)
    const random = seededBytes(7)
    const inserts = [100, 300, 500, 700].map((at) => {
      const garbage = random(1316)
      for (let i = 0; i < garbage.length; i += 17) garbage[i] = 0x47
      return { at, garbage }
    })
    const demuxed = demuxAll(withGarbage(bytes, inserts), { chunkSize: 1316 })
    assert.isAtLeast(demuxed.counters.syncLosses, 4)
    for (const kind of ["video", "audio"] as const) {
      const frames = ofKind(demuxed, kind)
      const cleanFrames = ofKind(clean, kind)
      assertNonDecreasing(frames, kind)
      // Whatever came out is a frame of the clean stream, and at most a few were lost around the garbage.
      for (const f of frames) assert.isTrue(cleanFrames.some((g) => g.dts === f.dts && g.data.length === f.data.length))
      assert.isAtLeast(frames.length, cleanFrames.length - 8)
    }
  })

  it("ignores PAT and PMT sections whose CRC does not check, and counts them", () => {
    const bytes = bytesOf(files.plain)
    const list = packetList(bytes)
    const pats = list.filter((p) => p.pid === 0)
    const pmtPid = list[pats[0]!.index + 1]!.pid
    // The first PAT, and the PMT after the second one (the one after the first is not read without a PAT).
    const pmt = list.find((p) => p.pid === pmtPid && p.index > pats[1]!.index)!
    // Byte 12 of these packets is inside the section: the CRC no longer matches.
    const damaged = demuxAll(withFlippedByte(withFlippedByte(bytes, pats[0]!.index, 12), pmt.index, 12))
    assert.strictEqual(damaged.counters.crcErrors, 2)
    const clean = demuxAll(bytes)
    // The frames before the next good PAT and PMT are lost, the rest are all there.
    const video = ofKind(damaged, "video")
    assert.isAbove(video.length, 0)
    assert.deepStrictEqual(video, ofKind(clean, "video").slice(-video.length))
    assert.isTrue(video[0]!.keyframe, "starts at a keyframe (the SPS/PPS come with it)")
  })
})

describe("TsDemuxer across a restarted sender", () => {
  /** The joined output starts with the first run untouched; returns where the second run starts. */
  const assertFirstRunKept = (first: Demuxed, joined: Demuxed, kind: Frame["kind"]) => {
    const before = ofKind(first, kind)
    const frames = ofKind(joined, kind)
    assertNonDecreasing(frames, kind)
    // The restart's continuity gap drops the first run's last video PES (unbounded, so not known to be whole).
    const n = kind === "video" ? before.length - 1 : before.length
    assert.deepStrictEqual(frames.slice(0, n), before.slice(0, n), "the first run is untouched")
    return { n, frames }
  }

  it.each([
    ["the same timestamps again (a backwards jump)", "plain"],
    ["timestamps 1000 s later (a forward jump)", "shifted"]
  ] as const)("keeps one monotonic timeline when the second file has %s", (_, second) => {
    const first = demuxAll(bytesOf(files.plain))
    const joined = demuxAll([
      { bytes: bytesOf(files.plain), nowMillis: 0 },
      { bytes: bytesOf(files[second]), nowMillis: 3000 }
    ])
    const alone = demuxAll(bytesOf(files[second]))
    assert.strictEqual(joined.counters.timestampJumps, 1)
    assert.strictEqual(joined.tracks.length, 2, "same config: no track declared again")
    for (const kind of ["video", "audio"] as const) {
      const { n, frames } = assertFirstRunKept(first, joined, kind)
      const secondRun = frames.slice(n)
      const original = ofKind(alone, kind)
      assert.strictEqual(secondRun.length, original.length)
      // The second run keeps its own spacing (audio: to the sample, after rounding each PES's PTS).
      const shift = secondRun[0]!.dts - original[0]!.dts
      secondRun.forEach((f, i) => assert.isAtMost(Math.abs(f.dts - shift - original[i]!.dts), 1, `${kind} ${i}`))
      // It starts about 3 s (the wall-clock gap) after the first run's last frame.
      const seconds = (secondRun[0]!.dts - frames[n - 1]!.dts) / (kind === "video" ? TS_CLOCK : 44100)
      assert.isAtLeast(seconds, 3, kind)
      assert.isAtMost(seconds, 3.5, kind)
    }
  })

  it("follows a restarted sender's new PAT, PMT and PIDs without losing a frame or re-declaring tracks", () => {
    const first = demuxAll(bytesOf(files.plain))
    const second = demuxAll(bytesOf(files.renumbered))
    const joined = demuxAll([{ bytes: bytesOf(files.plain) }, { bytes: bytesOf(files.renumbered), nowMillis: 500 }])
    assert.isAtLeast(joined.counters.tableChanges, 2, "PAT and PMT changed")
    assert.strictEqual(joined.counters.timestampJumps, 1)
    assert.strictEqual(joined.tracks.length, 2)
    for (const kind of ["video", "audio"] as const) {
      const frames = ofKind(joined, kind)
      assertNonDecreasing(frames, kind)
      // No continuity gap here (new PIDs): the first run's last video PES ends with its stream, and is kept.
      assert.strictEqual(frames.length, ofKind(first, kind).length + ofKind(second, kind).length, kind)
    }
  })

  it("declares the video track again only when the sender's config changed", () => {
    const joined = demuxAll([{ bytes: bytesOf(files.plain) }, { bytes: bytesOf(files.resized), nowMillis: 100 }])
    const declared = joined.tracks.map(({ track }) =>
      track.kind === "video" ? `video ${track.width}x${track.height}` : "audio"
    )
    assert.sameMembers(declared.slice(0, 2), ["video 320x240", "audio"])
    assert.deepStrictEqual(declared.slice(2), ["video 480x270"])
    const redeclared = joined.tracks[2]!
    assert.isTrue(joined.frames[redeclared.before]!.keyframe, "the new config starts with a keyframe")
    assertNonDecreasing(ofKind(joined, "video"), "video")
    assertNonDecreasing(ofKind(joined, "audio"), "audio")
  })
})
