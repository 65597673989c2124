/**
 * What a pull publishes across connections (PullOutput with its MediaReceivers), driven by RTP packets: tracks
 * declared once and again only on change, frames held for the RTP-Info, audio held until the video has its track,
 * video from its first keyframe, a dts that continues after a reconnect by the wall-clock gap, and the counters.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Frame, Track } from "../src/media/frame.ts"
import { makeAvcC, toAvcc } from "../src/media/h264-annexb.ts"
import type { Publication } from "../src/media/publisher.ts"
import { serializeRtpPacket } from "../src/protocols/rtp/rtp-packet.ts"
import type { MediaReceiver } from "../src/protocols/rtsp/media-receiver.ts"
import type { PullMedia } from "../src/protocols/rtsp/pull-media.ts"
import { PullOutput } from "../src/protocols/rtsp/pull-output.ts"

const SPS = Uint8Array.from(Buffer.from("Z0LADdoFB+wFqDAwNSgAAAMACAAAAwGUeKFV", "base64"))
const PPS = Uint8Array.from(Buffer.from("aM48gA==", "base64"))
const IDR = Uint8Array.of(0x65, 0x88, 0x84)
const SLICE = Uint8Array.of(0x41, 0x9a, 0x02)

const video = (parameterSets: Array<Uint8Array> = [SPS, PPS]): PullMedia => ({
  kind: "video",
  codec: "H264",
  payloadType: 96,
  clockRate: 90000,
  control: "rtsp://cam/live/stream=0",
  parameterSets
})

const pcma: PullMedia = {
  kind: "audio",
  codec: "PCMA",
  payloadType: 8,
  clockRate: 8000,
  control: "rtsp://cam/live/stream=1",
  sampleRate: 8000,
  channels: 1,
  config: new Uint8Array(0),
  aac: undefined
}

interface Recorded {
  readonly tracks: Array<Track>
  readonly frames: Array<Frame>
  readonly publication: Publication
}

const recorder = (): Recorded => {
  const tracks: Array<Track> = []
  const frames: Array<Frame> = []
  return {
    tracks,
    frames,
    publication: {
      mediaSessionId: "s1",
      track: (track) => tracks.push(track),
      frame: (frame) => frames.push(frame),
      close: () => Effect.void
    }
  }
}

/** One RTP sender per stream: consecutive sequence numbers from a random-looking start. */
const sender = (receiver: MediaReceiver, payloadType: number, firstSeq: number) => {
  let seq = firstSeq
  return (timestamp: number, payload: Uint8Array, nowMs: number, marker = true) => {
    const sequenceNumber = seq++
    const packet = serializeRtpPacket({ payloadType, sequenceNumber, timestamp: timestamp >>> 0, marker, payload })
    receiver.rtp(packet, nowMs)
  }
}

const stapA = (...nals: Array<Uint8Array>) =>
  Uint8Array.from([0x18, ...nals.flatMap((nal) => [nal.length >> 8, nal.length & 0xff, ...nal])])

const describeFrames = (frames: ReadonlyArray<Frame>) =>
  frames.map((f) => `${f.kind} ${f.dts}${f.kind === "video" && f.keyframe ? " key" : ""}`)

describe("PullOutput", () => {
  it("declares the tracks the SDP makes known before any frame, and holds frames until PLAY's RTP-Info", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const [v, a] = output.beginSegment([video(), pcma], 1000)
    const declared = out.tracks.map((t) => `${t.kind} ${t.codec} ${t.timescale}`)
    assert.deepStrictEqual(declared, ["video H264 90000", "audio PCMA 8000"])
    assert.deepStrictEqual(out.tracks[0]!.config, makeAvcC(SPS, PPS))
    const sendVideo = sender(v!, 96, 65000)
    const sendAudio = sender(a!, 8, 12)
    sendVideo(1_000_000 + 3000, IDR, 1001) // arrives with the PLAY answer, before it is read
    assert.deepStrictEqual(out.frames, [])
    output.play(new Map([[v!, 1_000_000], [a!, 77_000]]), 1002)
    sendAudio(77_000 + 160, Uint8Array.from({ length: 160 }), 1003)
    sendVideo(1_000_000 + 6000, SLICE, 1030)
    assert.deepStrictEqual(describeFrames(out.frames), ["video 3000 key", "audio 160", "video 6000"])
    assert.deepStrictEqual(out.frames[0]!.data, toAvcc([IDR]))
    assert.deepStrictEqual([output.packets, output.lost, output.errors], [3, 0, 0])
  })

  it("without sprop-parameter-sets, publishes nothing until the in-band SPS/PPS, and video from its first IDR", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const [v, a] = output.beginSegment([video([]), pcma], 0)
    output.play(new Map(), 0)
    assert.deepStrictEqual(out.tracks.map((t) => t.codec), ["PCMA"])
    const sendVideo = sender(v!, 96, 1)
    const sendAudio = sender(a!, 8, 1)
    sendAudio(500, Uint8Array.from({ length: 160 }), 10)
    sendVideo(900, SLICE, 20)
    assert.deepStrictEqual(out.frames, [], "audio waits for the video track")
    sendVideo(3900, stapA(SPS, PPS), 40, false)
    sendVideo(3900, IDR, 40)
    assert.deepStrictEqual(out.tracks.map((t) => t.codec), ["PCMA", "H264"])
    sendAudio(660, Uint8Array.from({ length: 160 }), 60)
    sendVideo(6900, SLICE, 70)
    // No RTP-Info: each stream is placed by the arrival of its first published frame after PLAY.
    assert.deepStrictEqual(describeFrames(out.frames), ["video 3600 key", "audio 480", "video 6600"])
  })

  it("declares G.722 as 16 kHz audio on the 8000 Hz RTP clock and publishes one frame per packet", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const g722: PullMedia = { ...pcma, codec: "G722", payloadType: 9, sampleRate: 16_000 }
    const [v, a] = output.beginSegment([video(), g722], 0)
    const declared = { kind: "audio", codec: "G722", timescale: 8000, sampleRate: 16_000, channels: 1 } as const
    assert.deepInclude(out.tracks[1], declared)
    output.play(new Map([[v!, 0], [a!, 0]]), 0)
    sender(v!, 96, 1)(0, IDR, 0)
    const sendAudio = sender(a!, 9, 1)
    const payloads = [1, 2, 3].map((n) => Uint8Array.from({ length: 160 }, () => n))
    payloads.forEach((payload, n) => sendAudio(160 * n, payload, 20 * n))
    assert.deepStrictEqual(describeFrames(out.frames), ["video 0 key", "audio 0", "audio 160", "audio 320"])
    assert.deepStrictEqual(out.frames.slice(1).map((f) => f.data), payloads)
  })

  it("drops video before the first keyframe of a connection", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const [v] = output.beginSegment([video()], 0)
    output.play(new Map([[v!, 0]]), 0)
    const send = sender(v!, 96, 1)
    send(3000, SLICE, 0)
    send(6000, SLICE, 0)
    send(9000, IDR, 0)
    assert.deepStrictEqual(describeFrames(out.frames), ["video 9000 key"])
  })

  it("continues after a reconnect by the wall-clock gap, without declaring the same tracks again", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    let [v, a] = output.beginSegment([video(), pcma], 0)
    output.play(new Map([[v!, 5000], [a!, 9]]), 0)
    sender(v!, 96, 100)(5000 + 90_000, IDR, 1000)
    sender(a!, 8, 7)(9 + 8000, Uint8Array.from({ length: 160 }), 1000)
    output.endSegment()
    // The camera comes back 3 s later with new RTP clocks and sequence numbers.
    ;[v, a] = output.beginSegment([video(), pcma], 3500)
    output.play(new Map([[v!, 2_000_000_000], [a!, 4_000_000_000]]), 4000)
    sender(v!, 96, 40_000)(2_000_000_000, IDR, 4001)
    sender(a!, 8, 3)(4_000_000_000, Uint8Array.from({ length: 160 }), 4001)
    assert.strictEqual(out.tracks.length, 2, "same configuration, not declared again")
    // Last dts 1 s, plus the 3 s between the last frame and the new PLAY answer: 4 s.
    assert.deepStrictEqual(describeFrames(out.frames), [
      "video 90000 key",
      "audio 8000",
      "video 360000 key",
      "audio 32000"
    ])
  })

  it("declares the video again when the camera comes back with another SPS", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    output.beginSegment([video()], 0)
    output.endSegment()
    const otherSps = Uint8Array.from(SPS)
    otherSps[3] = 0x1f
    output.beginSegment([video([otherSps, PPS])], 10)
    assert.deepStrictEqual(out.tracks.map((t) => t.config), [makeAvcC(SPS, PPS), makeAvcC(otherSps, PPS)])
  })

  it("distrusts an RTP-Info far from the packets and places the stream by arrival", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const [a] = output.beginSegment([pcma], 0)
    output.play(new Map([[a!, 123]]), 0)
    sender(a!, 8, 1)(2_000_000_000, Uint8Array.from({ length: 160 }), 250)
    assert.deepStrictEqual(describeFrames(out.frames), ["audio 2000"])
  })

  it("counts malformed RTP and RTCP, foreign payload types and lost packets, and reports them once", () => {
    const out = recorder()
    const output = new PullOutput(out.publication)
    const [a] = output.beginSegment([pcma], 0)
    output.play(new Map(), 0)
    a!.rtp(Uint8Array.of(0x80, 0x08, 0x00), 1)
    a!.rtp(serializeRtpPacket({ payloadType: 0, sequenceNumber: 1, timestamp: 0, payload: Uint8Array.of(1) }), 2)
    a!.rtcp(Uint8Array.of(0x80, 0xca, 0x00, 0x00))
    const send = sender(a!, 8, 10)
    send(0, Uint8Array.of(1), 3)
    send(160, Uint8Array.of(1), 4)
    sender(a!, 8, 15)(800, Uint8Array.of(1), 5)
    output.endSegment()
    assert.deepStrictEqual([output.packets, output.errors, output.lost], [5, 3, 3])
    const report = output.takeProblems()
    assert.strictEqual(report?.count, 3)
    assert.include(report?.last, "malformed RTCP")
    assert.isUndefined(output.takeProblems())
  })
})
