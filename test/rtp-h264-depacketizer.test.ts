/**
 * H.264 RTP depacketization (RFC 6184): GStreamer's real packets become access units that ffprobe decodes; single
 * NAL, STAP-A and FU-A packets of any size reassemble exactly; losses drop the access units they damage.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeAvcC, toAvcc } from "../src/media/h264-annexb.ts"
import type { RtpFrame } from "../src/protocols/rtp/depacketizer.ts"
import { H264Depacketizer } from "../src/protocols/rtp/h264-depacketizer.ts"
import { parseRtpPacket, type RtpPacket } from "../src/protocols/rtp/rtp-packet.ts"
import { chooseMedia } from "../src/protocols/rtsp/pull-media.ts"
import { parseSdp } from "../src/protocols/rtsp/sdp.ts"
import { toAnnexB } from "./fixtures/rtmp/elementary-streams.ts"
import { capturedBytes, capturedChannel, readAll } from "./fixtures/rtsp/captured-session.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"

const SPS = Uint8Array.from(Buffer.from("Z0LADdoFB+wFqDAwNSgAAAMACAAAAwGUeKFV", "base64"))
const PPS = Uint8Array.from(Buffer.from("aM48gA==", "base64"))
const IDR = Uint8Array.of(0x65, 0x88, 0x84, 0x00, 0x33)
const SLICE = Uint8Array.of(0x41, 0x9a, 0x02, 0x04)
const AUD = Uint8Array.of(0x09, 0x10)

let seq = 1000
const rtp = (payload: ArrayLike<number>, timestamp: number, marker = false, sequenceNumber = seq++): RtpPacket => ({
  marker,
  payloadType: 96,
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp,
  ssrc: 1,
  csrcs: [],
  extension: undefined,
  payload: Uint8Array.from(payload)
})

const stapA = (...nals: Array<Uint8Array>) =>
  [0x18, ...nals.flatMap((nal) => [nal.length >> 8, nal.length & 0xff, ...nal])]

/** FU-A fragments of `nal` (RFC 6184 5.8), `size` payload bytes each. */
const fuA = (nal: Uint8Array, size: number): Array<Array<number>> => {
  const body = nal.subarray(1)
  const fragments: Array<Array<number>> = []
  for (let at = 0; at < body.length; at += size) {
    const start = at === 0 ? 0x80 : 0
    const end = at + size >= body.length ? 0x40 : 0
    fragments.push([(nal[0]! & 0xe0) | 28, start | end | (nal[0]! & 0x1f), ...body.subarray(at, at + size)])
  }
  return fragments
}

const pushAll = (depacketizer: H264Depacketizer, packets: ReadonlyArray<RtpPacket>): Array<RtpFrame> =>
  packets.flatMap((packet) => depacketizer.push(packet))

describe("H264Depacketizer on GStreamer's packets", () => {
  it("rebuilds access units that ffprobe decodes, with the avcC of sprop-parameter-sets", () => {
    const describe = readAll(capturedBytes("describe"))[0]!
    assert.strictEqual(describe._tag, "Response")
    if (describe._tag !== "Response") return
    const [video] = chooseMedia(parseSdp(Buffer.from(describe.response.body).toString()), "rtsp://x/h264aac/").media
    assert.strictEqual(video?.kind, "video")
    if (video?.kind !== "video") return
    const depacketizer = new H264Depacketizer(video.parameterSets)
    const configured = depacketizer.config!
    assert.deepStrictEqual({ width: configured.width, height: configured.height }, { width: 320, height: 240 })
    const frames = pushAll(depacketizer, capturedChannel(0).map((bytes) => parseRtpPacket(bytes)!))
    assert.isAbove(frames.length, 10)
    assert.isTrue(frames[0]!.keyframe)
    assert.deepStrictEqual(depacketizer.config!.avcC, configured.avcC, "in-band SPS/PPS equal the SDP's")
    assert.deepStrictEqual([depacketizer.malformed, depacketizer.dropped], [0, 0])
    const timestamps = frames.map((f) => f.timestamp)
    assert.deepStrictEqual(timestamps, [...new Set(timestamps)], "one access unit per timestamp")

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "capstan-rtp-h264-")), "captured.h264")
    const config = configured.avcC
    const track = { kind: "video", codec: "H264", timescale: 90000, width: 320, height: 240, config } as const
    fs.writeFileSync(file, toAnnexB(track, frames.map((f) => ({ kind: "video", dts: 0, pts: 0, ...f }))))
    assert.deepInclude(probe(file).streams[0], { codec_name: "h264", width: 320, height: 240 })
    assert.strictEqual(decodeErrors(file), "")
    assert.strictEqual(countFrames(file, 0), frames.length)
  })
})

describe("H264Depacketizer", () => {
  it("ends an access unit at the marker bit and keeps STAP-A units in order, without the AUD", () => {
    const depacketizer = new H264Depacketizer()
    const frames = pushAll(depacketizer, [rtp(AUD, 3000), rtp(stapA(SPS, PPS), 3000), rtp(IDR, 3000, true)])
    assert.deepStrictEqual(frames, [{ timestamp: 3000, keyframe: true, data: toAvcc([SPS, PPS, IDR]) }])
    assert.deepStrictEqual(depacketizer.config?.avcC, makeAvcC(SPS, PPS))
  })

  it("ends an access unit when the timestamp changes, even without a marker", () => {
    const frames = pushAll(new H264Depacketizer(), [rtp(SLICE, 100), rtp(SLICE, 200), rtp(IDR, 300, true)])
    assert.deepStrictEqual(frames.map((f) => [f.timestamp, f.keyframe]), [[100, false], [200, false], [300, true]])
  })

  it("reassembles FU-A fragments into the NAL unit they came from", () => {
    const nal = Uint8Array.from({ length: 3000 }, (_, i) => (i === 0 ? 0x65 : i & 0xff))
    const frames = pushAll(new H264Depacketizer(), fuA(nal, 1000).map((f, i, all) => rtp(f, 9, i === all.length - 1)))
    assert.deepStrictEqual(frames, [{ timestamp: 9, keyframe: true, data: toAvcc([nal]) }])
  })

  it("drops the access unit whose FU-A lost a fragment, and the next one is whole again", () => {
    const nal = Uint8Array.from({ length: 300 }, (_, i) => (i === 0 ? 0x65 : 7))
    const [first, , last] = fuA(nal, 100)
    seq = 50
    const packets = [rtp(first!, 1, false, 50), rtp(last!, 1, true, 52), rtp(SLICE, 2, true, 53)]
    const depacketizer = new H264Depacketizer()
    assert.deepStrictEqual(pushAll(depacketizer, packets).map((f) => f.timestamp), [2])
    assert.strictEqual(depacketizer.dropped, 1)
  })

  it("after a loss, skips the rest of that timestamp: its start may be gone", () => {
    const depacketizer = new H264Depacketizer()
    const frames = pushAll(depacketizer, [
      rtp(SLICE, 1, true, 10),
      rtp(SLICE, 2, false, 12), // 11 lost: it may have been the first slice of timestamp 2
      rtp(SLICE, 2, true, 13),
      rtp(SLICE, 3, true, 14)
    ])
    assert.deepStrictEqual(frames.map((f) => f.timestamp), [1, 3])
  })

  it("drops a continuation whose start it never saw", () => {
    const [, middle, last] = fuA(Uint8Array.from({ length: 30 }, (_, i) => (i ? i : 0x41)), 10)
    const depacketizer = new H264Depacketizer()
    assert.deepStrictEqual(pushAll(depacketizer, [rtp(middle!, 5), rtp(last!, 5, true), rtp(SLICE, 6, true)]).length, 1)
    assert.strictEqual(depacketizer.dropped, 1)
  })

  const malformed: ReadonlyArray<readonly [string, Array<number>, string]> = [
    ["a STAP-A unit longer than the packet", [0x18, 0x00, 0x09, 0x67], "does not fit"],
    ["a STAP-A with a cut size field", [0x18, 0x00, 0x02, 0x09, 0x10, 0x00], "size field cut short"],
    ["an FU-A without payload", [0x7c, 0x85], "shorter than its headers"],
    ["an STAP-B (packetization-mode 2)", [0x19, 0x00, 0x00], "needs packetization-mode 2"],
    ["NAL unit type 0", [0x00, 0x01], "reserved"]
  ]
  for (const [name, payload, problem] of malformed) {
    it(`counts ${name} as malformed and drops its access unit`, () => {
      const depacketizer = new H264Depacketizer()
      const frames = pushAll(depacketizer, [rtp(SLICE, 1), rtp(payload, 1, true), rtp(IDR, 2, true)])
      assert.deepStrictEqual(frames.map((f) => f.timestamp), [2])
      assert.strictEqual(depacketizer.malformed, 1)
      assert.include(depacketizer.lastProblem, problem)
    })
  }

  it("bumps parameterVersion when an in-band SPS differs, not when it repeats", () => {
    const depacketizer = new H264Depacketizer([SPS, PPS])
    const version = depacketizer.parameterVersion
    pushAll(depacketizer, [rtp(stapA(SPS, PPS, IDR), 1, true)])
    assert.strictEqual(depacketizer.parameterVersion, version)
    const otherSps = Uint8Array.from(SPS)
    otherSps[3] = 0x1f
    pushAll(depacketizer, [rtp(stapA(otherSps, PPS, IDR), 2, true)])
    assert.strictEqual(depacketizer.parameterVersion, version + 1)
    assert.deepStrictEqual(depacketizer.config?.avcC, makeAvcC(otherSps, PPS))
  })

  it("gives back exactly the NAL units of any access units, however they were packetized", () => {
    const nalArb = fc.tuple(fc.constantFrom(0x41, 0x65, 0x06, 0x21), fc.uint8Array({ minLength: 1, maxLength: 2500 }))
      .map(([header, body]) => Uint8Array.from([header, ...body]))
    fc.assert(fc.property(
      fc.array(fc.array(nalArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 20, max: 1400 }),
      fc.integer({ min: 0, max: 0xffff }),
      (units, mtu, start) => {
        let sequence = start
        const packets: Array<RtpPacket> = []
        units.forEach((nals, u) => {
          const payloads: Array<Array<number>> = []
          let group: Array<Uint8Array> = []
          const flush = () => {
            if (group.length === 1) payloads.push([...group[0]!])
            else if (group.length > 1) payloads.push(stapA(...group))
            group = []
          }
          for (const nal of nals) {
            if (nal.length + 3 > mtu) {
              flush()
              payloads.push(...fuA(nal, mtu - 2))
            } else {
              if (group.reduce((n, g) => n + g.length + 2, 1) + nal.length + 2 > mtu) flush()
              group.push(nal)
            }
          }
          flush()
          payloads.forEach((payload, i) => packets.push(rtp(payload, u * 3000, i === payloads.length - 1, sequence++)))
        })
        const depacketizer = new H264Depacketizer()
        const frames = pushAll(depacketizer, packets)
        assert.deepStrictEqual(frames.map((f) => f.data), units.map((nals) => toAvcc(nals)))
        const idr = units.map((nals) => nals.some((n) => (n[0]! & 0x1f) === 5))
        assert.deepStrictEqual(frames.map((f) => f.keyframe), idr)
      }
    ), { numRuns: 100 })
  })
})
