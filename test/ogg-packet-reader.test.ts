/**
 * The Ogg packet reader (RFC 3533) on what ffmpeg's Ogg muxer really writes, judged against ffprobe's packet list:
 * packets many to a page, a header packet spanning pages, any chunking of the pipe, and damaged input.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { type OggPacket, OggPacketReader } from "../src/pipelines/ogg-packet-reader.ts"
import { oggPage, OggOpusWriter } from "../src/pipelines/ogg-opus-writer.ts"
import { OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES } from "../src/pipelines/opus-packet.ts"
import { tempDir } from "./fixtures/containers/source-media.ts"

const dir = tempDir("ogg-reader")

/**
 * 2 s of Opus from ffmpeg with the default pages (up to 1 s of packets each) and a 100 kB comment, so that the
 * OpusTags packet is laced over two pages (a page holds at most 255 x 255 bytes).
 */
const ffmpegOgg = (() => {
  let file: string | undefined
  return () => {
    if (file !== undefined) return file
    file = path.join(dir, "ffmpeg.opus")
    const result = spawnSync("/usr/bin/ffmpeg", ["-hide_banner", "-v", "error", "-nostdin", "-y",
      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:a", "libopus", "-b:a", "64k",
      "-metadata", `comment=${"x".repeat(100_000)}`, file], { encoding: "utf8", timeout: 60_000 })
    if (result.status !== 0) throw new Error(result.stderr)
    return file
  }
})()

/** The size of every audio packet ffprobe reads. */
const probedSizes = (file: string): Array<number> => {
  const result = spawnSync("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries", "packet=size",
    "-of", "json", file], { encoding: "utf8", maxBuffer: 16 << 20 })
  return JSON.parse(result.stdout).packets.map((packet: { size: string }) => Number(packet.size))
}

const readAll = (bytes: Uint8Array, cuts: ReadonlyArray<number> = []) => {
  const reader = new OggPacketReader()
  const packets: Array<OggPacket> = []
  let at = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    reader.push(bytes.subarray(at, cut), (packet) => packets.push(packet))
    at = cut
  }
  reader.push(bytes.subarray(at), (packet) => packets.push(packet))
  return { reader, packets }
}

const text = (data: Uint8Array, length: number) => Buffer.from(data.subarray(0, length)).toString("latin1")

describe("OggPacketReader (RFC 3533)", () => {
  it("reads ffmpeg's Ogg Opus packet for packet as ffprobe does, a header laced over two pages included", () => {
    const bytes = new Uint8Array(fs.readFileSync(ffmpegOgg()))
    const { reader, packets } = readAll(bytes)
    assert.strictEqual(text(packets[0]!.data, 8), "OpusHead")
    assert.strictEqual(text(packets[1]!.data, 8), "OpusTags")
    assert.isAbove(packets[1]!.data.length, 100_000)
    assert.include(Buffer.from(packets[1]!.data).toString("latin1"), "x".repeat(100_000))
    assert.deepStrictEqual(packets.slice(2).map((p) => p.data.length), probedSizes(ffmpegOgg()))
    // The last packet of the stream carries the final granule position (samples + pre-skip - end trimming).
    const last = packets.at(-1)!
    assert.approximately(last.granule - 312, 2 * 48_000, 960)
    assert.strictEqual(reader.pendingBytes, 0)
    assert.strictEqual(reader.skippedBytes + reader.badPages + reader.lostPackets, 0)
  })

  it("gives the same packets however the pipe cuts the bytes", () => {
    const bytes = new Uint8Array(fs.readFileSync(ffmpegOgg()))
    const whole = readAll(bytes).packets.map((p) => Buffer.from(p.data).toString("hex"))
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        const { packets } = readAll(bytes, cuts)
        assert.deepStrictEqual(packets.map((p) => Buffer.from(p.data).toString("hex")), whole)
      }),
      { numRuns: 60 }
    )
  })

  it("skips bytes that are no page, and a page whose CRC is damaged, then goes on", () => {
    const writer = new OggOpusWriter(5)
    const headers = writer.headers(2)
    const pages = [1, 2, 3].map((n) => writer.packet(Uint8Array.of(...OPUS_SILENCE_PACKET, n), OPUS_SILENCE_SAMPLES))
    const damaged = pages[1]!.slice()
    damaged[damaged.length - 1]! ^= 0xff
    const bytes = Buffer.concat([Buffer.from("garbage OggS"), headers, pages[0]!, damaged, pages[2]!])
    const { reader, packets } = readAll(new Uint8Array(bytes), [3, 40, 100])
    assert.deepStrictEqual(packets.map((p) => p.data.at(-1)), [
      0x00, // OpusHead's channel mapping family
      0x00, // OpusTags' comment count
      1,
      3
    ])
    assert.deepStrictEqual(packets.slice(2).map((p) => p.granule), [960, 2880])
    assert.strictEqual(reader.badPages, 1)
    assert.isAtLeast(reader.skippedBytes, "garbage OggS".length)
  })

  it("drops a packet whose continuation page was lost, and a continuation whose start was lost", () => {
    const big = new Uint8Array(300).fill(7)
    // One packet laced over two pages by hand: 255 bytes (segment 255) on the first, 45 on the second.
    const first = oggPageWith([255], big.subarray(0, 255), 0, 1, 0)
    const second = oggPageWith([45, 3], Buffer.concat([big.subarray(255), Uint8Array.of(1, 2, 3)]), 1920, 2, 1)
    const whole = readAll(new Uint8Array(Buffer.concat([first, second])))
    assert.deepStrictEqual(whole.packets.map((p) => p.data.length), [300, 3])
    assert.deepStrictEqual(whole.packets.map((p) => p.granule), [-1, 1920])
    // The second page alone: its first packet has no start.
    const orphan = readAll(second)
    assert.deepStrictEqual(orphan.packets.map((p) => [...p.data]), [[1, 2, 3]])
    assert.strictEqual(orphan.reader.lostPackets, 1)
    // The first page, then a page that does not continue it: the started packet is lost.
    const fresh = oggPage(Uint8Array.of(9), 2000, 1, 2)
    const cut = readAll(new Uint8Array(Buffer.concat([first, fresh])))
    assert.deepStrictEqual(cut.packets.map((p) => [...p.data]), [[9]])
    assert.strictEqual(cut.reader.lostPackets, 1)
  })
})

/** A page with a given segment table (oggPage always laces one whole packet), CRC included. */
const oggPageWith = (
  laces: ReadonlyArray<number>,
  body: Uint8Array,
  granule: number,
  sequence: number,
  flags: number
): Uint8Array => {
  const page = new Uint8Array(27 + laces.length + body.length)
  const view = new DataView(page.buffer)
  page.set([0x4f, 0x67, 0x67, 0x53])
  page[5] = flags
  view.setBigInt64(6, BigInt(granule), true)
  view.setUint32(14, 1, true)
  view.setUint32(18, sequence, true)
  page[26] = laces.length
  page.set(laces, 27)
  page.set(body, 27 + laces.length)
  view.setUint32(22, crcOf(page), true)
  return page
}

/** The page CRC (RFC 3533 6), bit by bit: a second implementation beside the writer's table-driven one. */
const crcOf = (page: Uint8Array): number => {
  let crc = 0
  for (const byte of page) {
    crc ^= byte << 24
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1
  }
  return crc >>> 0
}
