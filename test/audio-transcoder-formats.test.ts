import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { adtsAudioSpecificConfig, parseAdtsHeader, splitAdts } from "../src/media/aac-adts.ts"
import { AdtsReader } from "../src/pipelines/adts-reader.ts"
import { oggPage, OggOpusWriter } from "../src/pipelines/ogg-opus-writer.ts"
import { OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES, opusPacketSamples } from "../src/pipelines/opus-packet.ts"
import { aacBitrate, aacLcConfig } from "../src/pipelines/transcoder-command.ts"
import { makeBeepSource, readBeepFrames } from "./fixtures/audio-transcoder/beeps.ts"
import { tempDir } from "./fixtures/containers/source-media.ts"
import { probe } from "./support/ffprobe.ts"

const dir = tempDir("transcoder-formats")

const ffmpeg = (args: ReadonlyArray<string>) =>
  spawnSync("/usr/bin/ffmpeg", ["-hide_banner", "-nostdin", ...args], { timeout: 60_000, maxBuffer: 64 << 20 })

describe("OggOpusWriter (RFC 3533, RFC 7845)", () => {
  it("writes a stream ffmpeg reads without complaint, with every packet and the right duration", async () => {
    const { tracks, frames } = await readBeepFrames(makeBeepSource(dir, "OPUS", 3, { channels: 2 }))
    const audio = tracks.findIndex((t) => t.kind === "audio")
    const packets = frames.filter((f) => f.trackIndex === audio).map((f) => f.frame.data)
    const writer = new OggOpusWriter(7)
    const parts = [writer.headers(2)]
    let samples = 0
    for (const packet of packets) {
      parts.push(writer.packet(packet, opusPacketSamples(packet)))
      samples += opusPacketSamples(packet)
    }
    // Silence packets decode too.
    for (let i = 0; i < 10; i++) parts.push(writer.packet(OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES))
    samples += 10 * OPUS_SILENCE_SAMPLES
    const file = path.join(dir, "written.opus")
    fs.writeFileSync(file, Buffer.concat(parts))

    const decoded = ffmpeg(["-v", "warning", "-i", file, "-f", "null", "-"])
    assert.strictEqual(decoded.status, 0)
    assert.strictEqual(decoded.stderr.toString().trim(), "")
    const stream = probe(file).streams[0]!
    assert.strictEqual(stream.codec_name, "opus")
    assert.strictEqual(stream.channels, 2)
    const counted = spawnSync("ffprobe", ["-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
      "-of", "csv=p=0", file], { encoding: "utf8" })
    assert.strictEqual(Number(counted.stdout.trim()), packets.length + 10)
    // ffprobe reads the duration from the last page's granule position.
    assert.approximately(Number(probe(file).format.duration), samples / 48_000, 0.001)
  })

  it("decodes a stream cleanly until one page's CRC is damaged (the check above can fail)", () => {
    const writer = new OggOpusWriter(9)
    const good = Buffer.concat([writer.headers(1), writer.packet(OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES)])
    const lastPage = oggPage(OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES, 9, 2)
    assert.deepStrictEqual(new Uint8Array(good.subarray(good.length - lastPage.length)), lastPage)
    const bad = Buffer.from(good)
    bad[good.length - lastPage.length + 22]! ^= 0xff // CRC_checksum, RFC 3533 6
    const complaints = [good, bad].map((bytes, i) => {
      const file = path.join(dir, `crc-${i}.opus`)
      fs.writeFileSync(file, bytes)
      return ffmpeg(["-v", "warning", "-i", file, "-f", "null", "-"]).stderr.toString()
    })
    assert.strictEqual(complaints[0]!.trim(), "")
    assert.match(complaints[1]!, /CRC mismatch/)
  })
})

/** `seconds` of AAC in ADTS from ffmpeg's native encoder. */
const adtsFile = (rate: number, channels: number, seconds: number): Uint8Array => {
  const file = path.join(dir, `tone-${rate}-${channels}.aac`)
  if (!fs.existsSync(file)) {
    const made = ffmpeg(["-v", "error", "-y", "-f", "lavfi", "-i", `sine=frequency=440:sample_rate=${rate}`, "-t",
      String(seconds), "-c:a", "aac", "-ac", String(channels), "-f", "adts", file])
    if (made.status !== 0) throw new Error(made.stderr.toString())
  }
  return new Uint8Array(fs.readFileSync(file))
}

describe("AdtsReader", () => {
  it("gives the frames splitAdts finds, however the stream is cut into chunks", () => {
    const stream = adtsFile(44_100, 2, 1)
    const expected = splitAdts(stream).frames
    assert.isAbove(expected.length, 40)
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 50 }), (sizes) => {
      const reader = new AdtsReader()
      const got: Array<Uint8Array> = []
      let at = 0
      for (let i = 0; at < stream.length; i++) {
        const size = sizes[i % sizes.length]!
        reader.push(stream.subarray(at, at + size), (payload) => got.push(payload))
        at += size
      }
      assert.strictEqual(got.length, expected.length)
      got.forEach((frame, i) => assert.deepStrictEqual(frame, expected[i]))
      assert.strictEqual(reader.pendingBytes, 0)
      assert.strictEqual(reader.skippedBytes, 0)
    }))
  })

  it("skips and counts bytes that are not ADTS, then finds the next frame", () => {
    const stream = adtsFile(44_100, 2, 1)
    let threeFrames = 0
    for (let i = 0; i < 3; i++) threeFrames += parseAdtsHeader(stream, threeFrames)!.frameLength
    const garbage = Uint8Array.of(1, 2, 3, 0xff, 0x00, 5)
    const mixed = Buffer.concat([garbage, stream.subarray(0, threeFrames)])
    const reader = new AdtsReader()
    let frames = 0
    reader.push(mixed, () => frames++)
    assert.strictEqual(frames, 3)
    assert.strictEqual(reader.skippedBytes, garbage.length)
  })
})

describe("the AAC the transcoder promises", () => {
  it.each([[8000, 1], [16_000, 1], [22_050, 2], [32_000, 2], [44_100, 1], [44_100, 2], [48_000, 2], [48_000, 6]])(
    "AudioSpecificConfig for %i Hz, %i channels is the one ffmpeg's own ADTS output implies",
    (rate, channels) => {
      const header = parseAdtsHeader(adtsFile(rate, channels, 0.2))!
      assert.deepStrictEqual(aacLcConfig(rate, channels), adtsAudioSpecificConfig(header))
    }
  )

  it.each([[44_000, 2], [48_000, 0], [48_000, 7]])("has no config for %i Hz, %i channels", (rate, channels) => {
    assert.isString(aacLcConfig(rate, channels))
  })

  it.each([
    { mode: 0, channels: 2, bitrate: 128_000 },
    { mode: 1, channels: 2, bitrate: 64_000 },
    { mode: 3, channels: 1, bitrate: 56_000 },
    { mode: 5, channels: 2, bitrate: 224_000 },
    { mode: 9, channels: 1, bitrate: 112_000 }
  ])("bitrate mode $mode with $channels channels asks ffmpeg for $bitrate bit/s", ({ mode, channels, bitrate }) => {
    assert.strictEqual(aacBitrate(mode, channels), bitrate)
  })
})
