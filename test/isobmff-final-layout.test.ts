import { assert, describe, it } from "@effect/vitest"
import { planLayout } from "../src/containers/isobmff/final-layout.ts"
import { FTYP, type Movie } from "../src/containers/isobmff/moov.ts"
import { SampleTable } from "../src/containers/isobmff/sample-table.ts"
import { DATA_START } from "../src/containers/isobmff/data-layout.ts"
import type { Track } from "../src/media/frame.ts"

const U32_MAX = 2 ** 32 - 1
const video: Track = {
  kind: "video",
  codec: "H264",
  timescale: 1000,
  width: 64,
  height: 64,
  config: Uint8Array.of(1, 0x64, 0, 0x1e, 0xff, 0xe0, 0)
}

/** A one-track movie whose chunks sit at the given data-file offsets, one 10-byte sample each (with other data
 * between them, so they stay separate chunks). */
const movieWithChunks = (offsets: ReadonlyArray<number>): Movie => {
  const samples = new SampleTable(false, 3000)
  offsets.forEach((offset, i) => {
    samples.add(10, i * 3000, 0, i === 0)
    samples.addChunk(offset, 1)
  })
  return {
    creationTime: 0,
    timescale: 1000,
    tracks: [{
      track: video,
      mediaTimescale: 90000,
      samples,
      edits: [{ kind: "media", mediaTime: 0, duration: offsets.length * 33 }]
    }]
  }
}

/** The chunk offsets the moov holds, and which box holds them, read with a minimal walker of our own. */
const chunkOffsets = (moov: Uint8Array) => {
  const bytes = Buffer.from(moov)
  for (const type of ["stco", "co64"]) {
    const at = bytes.indexOf(type, 0, "latin1")
    if (at < 0) continue
    const count = bytes.readUInt32BE(at + 8)
    const values = Array.from({ length: count }, (_, i) =>
      type === "co64" ? Number(bytes.readBigUInt64BE(at + 12 + i * 8)) : bytes.readUInt32BE(at + 12 + i * 4))
    return { type, values }
  }
  throw new Error("no chunk offset box")
}

describe("planLayout", () => {
  it("keeps stco while every final offset fits in 32 bits, with the media moved behind the moov", () => {
    const offsets = [DATA_START, DATA_START + 1000, DATA_START + 2000]
    const layout = planLayout(movieWithChunks(offsets), 3000, offsets.at(-1)!, true, false)
    assert.isFalse(layout.wideOffsets)
    assert.isFalse(layout.largeMdat)
    assert.strictEqual(layout.mdatHeader.length, 8)
    assert.strictEqual(layout.shift, FTYP.length + layout.moov.length + 8 - DATA_START)
    assert.deepStrictEqual(chunkOffsets(layout.moov), { type: "stco", values: offsets.map((o) => o + layout.shift) })
  })

  it("switches to co64 when a chunk lies beyond 4 GiB", () => {
    const offsets = [DATA_START, 2 ** 32 + 10, 5 * 2 ** 32]
    for (const moovFirst of [true, false]) {
      const layout = planLayout(movieWithChunks(offsets), 5 * 2 ** 32, offsets.at(-1)!, moovFirst, false)
      assert.isTrue(layout.wideOffsets)
      assert.isTrue(layout.largeMdat, "an mdat over 4 GiB needs the 64-bit largesize")
      assert.deepStrictEqual(chunkOffsets(layout.moov), { type: "co64", values: offsets.map((o) => o + layout.shift) })
      assert.isAbove(chunkOffsets(layout.moov).values.at(-1)!, U32_MAX)
    }
  })

  it("switches to co64 when only the moov in front pushes the last chunk past 2^32-1", () => {
    const last = U32_MAX - 100
    const first = planLayout(movieWithChunks([DATA_START, last]), last, last, true, false)
    assert.isTrue(first.wideOffsets)
    assert.strictEqual(chunkOffsets(first.moov).values[1], last + first.shift)
    const atEnd = planLayout(movieWithChunks([DATA_START, last]), last, last, false, false)
    assert.isFalse(atEnd.wideOffsets, "moov last moves nothing, so stco still fits")
    assert.deepStrictEqual(chunkOffsets(atEnd.moov).values, [DATA_START, last])
  })

  it("writes the mdat size as 32 bits up to 4 GiB and as a 64-bit largesize beyond", () => {
    const small = planLayout(movieWithChunks([DATA_START]), U32_MAX - 16, DATA_START, true, false)
    assert.isFalse(small.largeMdat)
    assert.strictEqual(Buffer.from(small.mdatHeader).readUInt32BE(0), U32_MAX - 8)
    const large = planLayout(movieWithChunks([DATA_START]), U32_MAX - 15, DATA_START, true, false)
    const header = Buffer.from(large.mdatHeader)
    assert.deepStrictEqual([header.readUInt32BE(0), header.toString("latin1", 4, 8)], [1, "mdat"])
    assert.strictEqual(Number(header.readBigUInt64BE(8)), U32_MAX - 15 + 16)
  })

  it("moov last reuses the 16 reserved bytes: free + small mdat header, or one large header", () => {
    const small = Buffer.from(planLayout(movieWithChunks([DATA_START]), 1000, DATA_START, false, false).mdatHeader)
    assert.deepStrictEqual([small.readUInt32BE(0), small.toString("latin1", 4, 8)], [8, "free"])
    assert.deepStrictEqual([small.readUInt32BE(8), small.toString("latin1", 12, 16)], [1008, "mdat"])
    const forced = planLayout(movieWithChunks([DATA_START]), 1000, DATA_START, false, true)
    assert.isTrue(forced.wideOffsets)
    const header = Buffer.from(forced.mdatHeader)
    assert.deepStrictEqual([header.length, header.readUInt32BE(0), Number(header.readBigUInt64BE(8))], [16, 1, 1016])
  })
})
