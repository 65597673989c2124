import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ByteWriter } from "../src/containers/isobmff/byte-writer.ts"
import {
  beginChunkRecord,
  DATA_START,
  dataFileHeader,
  endChunkRecord,
  type JournalRecord,
  readJournal,
  SYNC_BIT,
  writeHeaderRecord,
  writeTrackRecord
} from "../src/containers/isobmff/temp-files.ts"
import type { Track } from "../src/media/frame.ts"

const tracks: ReadonlyArray<Track> = [
  {
    kind: "video",
    codec: "H264",
    timescale: 1000,
    width: 1920,
    height: 1080,
    config: Uint8Array.of(1, 0x64, 0, 0x28, 0xff)
  },
  { kind: "audio", codec: "AAC", timescale: 1000, sampleRate: 48000, channels: 2, config: Uint8Array.of(0x11, 0x90) }
]

interface ChunkInput {
  readonly trackIndex: number
  readonly offset: number
  readonly baseDecodeTime: number
  /** [size, sync, decode time from the chunk's first, composition offset] */
  readonly samples: ReadonlyArray<readonly [number, boolean, number, number]>
}

const chunk: fc.Arbitrary<ChunkInput> = fc.record({
  trackIndex: fc.constantFrom(0, 1),
  offset: fc.integer({ min: DATA_START, max: 2 ** 40 }),
  baseDecodeTime: fc.integer({ min: 0, max: 2 ** 40 }),
  samples: fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.boolean(),
      fc.nat(),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    ),
    { minLength: 1, maxLength: 40 }
  )
})

/** A journal as the recorder writes it: header, both tracks, then chunks; with the expected decoded records. */
const journal = (chunks: ReadonlyArray<ChunkInput>) => {
  const w = new ByteWriter(8)
  const ends: Array<number> = []
  const expected: Array<JournalRecord> = []
  writeHeaderRecord(w, { creationTime: 1_767_312_000_123, movieTimescale: 1000 })
  expected.push({ type: "header", header: { creationTime: 1_767_312_000_123, movieTimescale: 1000 } })
  ends.push(w.length)
  tracks.forEach((track, index) => {
    const t = {
      index,
      track,
      mediaTimescale: index === 0 ? 90000 : 48000,
      presentationStart: 12.5 + index,
      startOffset: index === 1 ? 1.5 : undefined
    }
    writeTrackRecord(w, t)
    expected.push({ type: "track", track: t })
    ends.push(w.length)
  })
  for (const c of chunks) {
    const at = beginChunkRecord(w, c.trackIndex, c.offset, c.baseDecodeTime, c.samples.length)
    const entries = Buffer.alloc(c.samples.length * 12)
    c.samples.forEach(([size, sync, decode, offset], i) => {
      w.u32((size | (sync ? SYNC_BIT : 0)) >>> 0).u32(decode).i32(offset)
      entries.writeUInt32BE((size | (sync ? SYNC_BIT : 0)) >>> 0, i * 12)
      entries.writeUInt32BE(decode, i * 12 + 4)
      entries.writeInt32BE(offset, i * 12 + 8)
    })
    endChunkRecord(w, at)
    const { trackIndex, offset, baseDecodeTime } = c
    const count = c.samples.length
    expected.push({ type: "chunk", chunk: { trackIndex, offset, baseDecodeTime, count, samples: entries } })
    ends.push(w.length)
  }
  return { bytes: Buffer.from(w.bytes), ends, expected }
}

/** Records as plain JSON, bytes as number arrays, for deep comparison. */
const plain = (records: ReadonlyArray<JournalRecord>) =>
  JSON.parse(JSON.stringify(records, (_, v) => (v instanceof Uint8Array ? [...v] : v)))

describe("the recording journal", () => {
  it("decodes what was written, record for record", () =>
    fc.assert(fc.property(fc.array(chunk, { maxLength: 20 }), (chunks) => {
      const { bytes, expected } = journal(chunks)
      assert.deepStrictEqual(plain(readJournal(bytes)), plain(expected))
    }), { numRuns: 100 }))

  it("a journal cut anywhere yields exactly the records completed before the cut", () =>
    fc.assert(fc.property(fc.array(chunk, { minLength: 1, maxLength: 6 }), fc.nat(), (chunks, at) => {
      const { bytes, ends, expected } = journal(chunks)
      const cut = at % (bytes.length + 1)
      const complete = ends.filter((end) => end <= cut).length
      assert.deepStrictEqual(plain(readJournal(bytes.subarray(0, cut))), plain(expected.slice(0, complete)))
    }), { numRuns: 300 }))

  it("a flipped byte ends the journal at the damaged record (CRC-32)", () =>
    fc.assert(fc.property(fc.array(chunk, { minLength: 1, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (
      chunks,
      at,
      xor
    ) => {
      const { bytes, ends, expected } = journal(chunks)
      const position = at % bytes.length
      const damaged = Buffer.from(bytes)
      damaged[position]! ^= xor
      const intact = ends.filter((end) => end <= position).length
      const decoded = readJournal(damaged)
      assert.deepStrictEqual(plain(decoded.slice(0, intact)), plain(expected.slice(0, intact)))
      assert.isAtMost(decoded.length, intact)
    }), { numRuns: 300 }))

  it("the data file starts with ftyp, free and an mdat running to the end of the file", () => {
    const header = dataFileHeader()
    assert.strictEqual(header.length, DATA_START)
    const boxes = [[0, 32, "ftyp"], [32, 8, "free"], [40, 0, "mdat"]] as const
    for (const [at, size, type] of boxes) {
      assert.deepStrictEqual([header.readUInt32BE(at), header.toString("latin1", at + 4, at + 8)], [size, type])
    }
    assert.deepStrictEqual(
      [8, 12, 16, 20, 24, 28].map((at) => header.toString("latin1", at, at + 4)).filter((_, i) => i !== 1),
      ["isom", "isom", "iso2", "avc1", "mp41"]
    )
  })
})
