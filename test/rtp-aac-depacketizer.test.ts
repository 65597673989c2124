/**
 * AAC over RTP in the RFC 3640 AAC-hbr format: GStreamer's real packets become access units that ffprobe decodes;
 * several AUs per packet get consecutive timestamps; a fragmented AU is reassembled, or dropped if a piece is lost.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AAC_HBR, AacDepacketizer } from "../src/protocols/rtp/aac-depacketizer.ts"
import { parseRtpPacket, type RtpPacket } from "../src/protocols/rtp/rtp-packet.ts"
import { toAdts } from "./fixtures/rtmp/elementary-streams.ts"
import { capturedChannel } from "./fixtures/rtsp/captured-session.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"

let seq = 0
const rtp = (payload: ArrayLike<number>, timestamp: number, marker = true, sequenceNumber = seq++): RtpPacket => ({
  marker,
  payloadType: 97,
  sequenceNumber,
  timestamp,
  ssrc: 2,
  csrcs: [],
  extension: undefined,
  payload: Uint8Array.from(payload)
})

/** AU-headers-length then 13-bit sizes with 3-bit index (deltas) 0, then the AUs (RFC 3640 3.3.6). */
const hbr = (sizes: ReadonlyArray<number>, data: ReadonlyArray<number>): Array<number> => {
  const bits = sizes.length * 16
  return [bits >> 8, bits & 0xff, ...sizes.flatMap((size) => [size >> 5, (size & 0x1f) << 3]), ...data]
}

const au = (length: number, fill: number) => Array.from({ length }, () => fill)

describe("AacDepacketizer", () => {
  it("rebuilds GStreamer's AAC access units, which ffprobe decodes", () => {
    const depacketizer = new AacDepacketizer(AAC_HBR)
    const frames = capturedChannel(2).flatMap((bytes) => depacketizer.push(parseRtpPacket(bytes)!))
    assert.isAbove(frames.length, 10)
    assert.deepStrictEqual([depacketizer.malformed, depacketizer.dropped], [0, 0])
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "capstan-rtp-aac-")), "captured.aac")
    // The SDP's config=120856e500: AAC-LC, 44100 Hz, mono.
    const config = Uint8Array.of(0x12, 0x08)
    const track = { kind: "audio", codec: "AAC", timescale: 44100, sampleRate: 44100, channels: 1, config } as const
    fs.writeFileSync(file, toAdts(track, frames.map((f) => ({ kind: "audio", dts: 0, pts: 0, ...f }))))
    assert.deepInclude(probe(file).streams[0], { codec_name: "aac", sample_rate: "44100", channels: 1 })
    assert.strictEqual(decodeErrors(file), "")
    assert.strictEqual(countFrames(file, 0), frames.length)
  })

  it("splits several AUs of one packet, each 1024 samples after the one before", () => {
    const frames = new AacDepacketizer().push(rtp(hbr([3, 2, 4], [...au(3, 1), ...au(2, 2), ...au(4, 3)]), 0xfffffc00))
    assert.deepStrictEqual(
      frames.map((f) => [f.timestamp, [...f.data]]),
      [[0xfffffc00, au(3, 1)], [0, au(2, 2)], [1024, au(4, 3)]]
    )
  })

  it("reassembles an AU fragmented over packets with the same timestamp", () => {
    const depacketizer = new AacDepacketizer()
    assert.deepStrictEqual(depacketizer.push(rtp(hbr([10], au(4, 1)), 77, false)), [])
    assert.deepStrictEqual(depacketizer.push(rtp(hbr([10], au(4, 2)), 77, false)), [])
    const [frame] = depacketizer.push(rtp(hbr([10], au(2, 3)), 77, true))
    assert.deepStrictEqual([...frame!.data], [...au(4, 1), ...au(4, 2), ...au(2, 3)])
    assert.strictEqual(frame!.timestamp, 77)
  })

  it("drops a fragmented AU that lost a piece", () => {
    const depacketizer = new AacDepacketizer()
    depacketizer.push(rtp(hbr([10], au(4, 1)), 5, false, 100))
    const frames = depacketizer.push(rtp(hbr([10], au(2, 3)), 5, true, 102))
    assert.deepStrictEqual(frames, [])
    assert.strictEqual(depacketizer.dropped, 1)
  })

  it("reads AAC-lbr field sizes (6-bit size, 2-bit index)", () => {
    const depacketizer = new AacDepacketizer({ sizeLength: 6, indexLength: 2, indexDeltaLength: 2 })
    const frames = depacketizer.push(rtp([0x00, 0x10, (3 << 2), (2 << 2), ...au(3, 9), ...au(2, 8)], 0))
    assert.deepStrictEqual(frames.map((f) => [...f.data]), [au(3, 9), au(2, 8)])
  })

  const malformed: ReadonlyArray<readonly [string, Array<number>, string]> = [
    ["a one-byte payload", [0x00], "shorter than the AU-headers-length"],
    ["headers longer than the packet", [0x00, 0x40, 0x00], "do not fit"],
    ["a header cut short", [0x00, 0x0c, 0x00, 0x00, 0x01], "AU header cut short"],
    ["no header at all", [0x00, 0x00, 0x01], "no AU header"],
    ["an empty AU", hbr([0], []), "empty access unit"],
    ["AUs longer than the packet", hbr([5, 5], au(6, 1)), "access units of 10 bytes run past the packet"]
  ]
  for (const [name, payload, problem] of malformed) {
    it(`counts ${name} as malformed`, () => {
      const depacketizer = new AacDepacketizer()
      assert.deepStrictEqual(depacketizer.push(rtp(payload, 0)), [])
      assert.strictEqual(depacketizer.malformed, 1)
      assert.include(depacketizer.lastProblem, problem)
    })
  }
})
