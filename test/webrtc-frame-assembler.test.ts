/**
 * Video frames rebuilt from RTP: werift's packetizers cut real ffmpeg-encoded H.264 and VP8 frames into packets,
 * the FrameAssembler groups them back (marker bit, timestamp) and werift's depacketizer restores the bytes. Frames
 * that lost a packet, their marker or their start are dropped, never passed on half-built.
 */
import { assert, describe, it } from "@effect/vitest"
import { dePacketizeRtpPackets, H264Packetizer, type RtpPacket, Vp8Packetizer } from "werift"
import { splitAnnexB } from "../src/media/h264-annexb.ts"
import { FrameAssembler, h264StartsFrame, vp8StartsFrame } from "../src/protocols/webrtc/frame-assembler.ts"
import { encodeVideo } from "./fixtures/webrtc/test-media.ts"

const h264 = encodeVideo("H264", { seconds: 1, size: "640x480" })
const vp8 = encodeVideo("VP8", { seconds: 1, size: "640x480" })

const packetize = (codec: "H264" | "VP8", frames: ReadonlyArray<{ readonly data: Buffer }>) => {
  const packetizer = codec === "H264" ? new H264Packetizer({ inputFormat: "annexb" }) : new Vp8Packetizer()
  return frames.map((frame, i) => packetizer.packetize(frame.data, i * 3000))
}

const annexBNals = (data: Uint8Array) => splitAnnexB(data).map((nal) => Buffer.from(nal).toString("hex"))

describe("FrameAssembler", () => {
  for (const [codec, media, starts] of [["H264", h264, h264StartsFrame], ["VP8", vp8, vp8StartsFrame]] as const) {
    it(`rebuilds every ${codec} frame byte for byte from its packets`, () => {
      const packets = packetize(codec, media.frames)
      assert.isAbove(Math.max(...packets.map((p) => p.length)), 1, "some frames span several packets")
      const assembler = new FrameAssembler<RtpPacket>(starts)
      const rebuilt = packets.flat().flatMap((packet) => assembler.push(packet) ?? [])
      assert.strictEqual(rebuilt.length, media.frames.length)
      rebuilt.forEach((frame, i) => {
        assert.strictEqual(frame.timestamp, i * 3000)
        const data = dePacketizeRtpPackets(codec === "H264" ? "MPEG4/ISO/AVC" : "VP8", [...frame.packets]).data
        if (codec === "H264") assert.deepStrictEqual(annexBNals(data), annexBNals(media.frames[i]!.data))
        else assert.isTrue(Buffer.from(data).equals(media.frames[i]!.data), `frame ${i}`)
      })
      assert.deepStrictEqual(assembler.stats, { complete: media.frames.length, broken: 0 })
    })
  }

  it("drops a frame that lost a packet and takes the next whole one", () => {
    const packets = packetize("H264", h264.frames)
    const big = packets.findIndex((p) => p.length >= 3)
    const assembler = new FrameAssembler<RtpPacket>(h264StartsFrame)
    const out: Array<number> = []
    for (const [i, framePackets] of packets.slice(0, big + 2).entries()) {
      for (const [j, packet] of framePackets.entries()) {
        if (i === big && j === 1) {
          assembler.lost()
          continue
        }
        const frame = assembler.push(packet)
        if (frame !== undefined) out.push(frame.timestamp / 3000)
      }
    }
    assert.deepStrictEqual(out, [...Array.from({ length: big }, (_, i) => i), big + 1])
    assert.strictEqual(assembler.stats.broken, 1)
  })

  it("drops a frame whose marker packet was lost, when the next timestamp begins", () => {
    const packets = packetize("VP8", vp8.frames)
    const assembler = new FrameAssembler<RtpPacket>(vp8StartsFrame)
    const firstWithoutMarker = packets[0]!.slice(0, -1)
    for (const packet of firstWithoutMarker) assert.isUndefined(assembler.push(packet))
    const next = packets[1]!.map((packet) => assembler.push(packet)).at(-1)
    assert.strictEqual(next?.timestamp, 3000)
    assert.deepStrictEqual(assembler.stats, { complete: 1, broken: 1 })
  })

  it("drops a frame that starts in the middle (its first packets lost before anything was received)", () => {
    const packets = packetize("H264", h264.frames)
    // The keyframe is cut into fragments; start at one that continues a fragmented NAL unit (FU-A, no start bit).
    const middle = packets[0]!.findIndex((packet) => !h264StartsFrame(packet.payload))
    assert.isAbove(middle, 0)
    const assembler = new FrameAssembler<RtpPacket>(h264StartsFrame)
    for (const packet of packets[0]!.slice(middle)) assert.isUndefined(assembler.push(packet))
    const next = packets[1]!.map((packet) => assembler.push(packet)).at(-1)
    assert.strictEqual(next?.timestamp, 3000)
    assert.deepStrictEqual(assembler.stats, { complete: 1, broken: 1 })
  })

  const starts: ReadonlyArray<readonly [string, (payload: Uint8Array) => boolean, ReadonlyArray<number>, boolean]> = [
    ["H.264 single NAL unit (IDR)", h264StartsFrame, [0x65, 0x88], true],
    ["H.264 STAP-A", h264StartsFrame, [0x78, 0x00, 0x02], true],
    ["H.264 FU-A start", h264StartsFrame, [0x7c, 0x85], true],
    ["H.264 FU-A continuation", h264StartsFrame, [0x7c, 0x05], false],
    ["H.264 FU-A end", h264StartsFrame, [0x7c, 0x45], false],
    ["H.264 empty", h264StartsFrame, [], false],
    ["VP8 partition 0 start", vp8StartsFrame, [0x10, 0x9d], true],
    ["VP8 start with extensions", vp8StartsFrame, [0x90, 0x80, 0x01], true],
    ["VP8 continuation", vp8StartsFrame, [0x00, 0x9d], false],
    ["VP8 partition 1 start", vp8StartsFrame, [0x11, 0x9d], false]
  ]
  for (const [name, startsFrame, bytes, expected] of starts) {
    it(`says whether a payload can begin a frame: ${name}`, () => {
      assert.strictEqual(startsFrame(Uint8Array.from(bytes)), expected)
    })
  }
})
