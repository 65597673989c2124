import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ByteWriter } from "../src/containers/isobmff/byte-writer.ts"
import {
  DATA_START,
  type DataLayout,
  dataFileHeader,
  dataPathsOfHeader,
  dataStartOf,
  headerPathOf
} from "../src/containers/isobmff/data-layout.ts"
import {
  beginChunkRecord,
  endChunkRecord,
  type JournalHeader,
  type JournalRecord,
  readJournal,
  readJournalPrefix,
  SYNC_BIT,
  writeFinalizingRecord,
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

const defaultHeader: JournalHeader = {
  creationTime: 1_767_312_000_123,
  movieTimescale: 1000,
  layout: { _tag: "Plain" },
  streamName: "stream1"
}

const header: fc.Arbitrary<JournalHeader> = fc.record({
  creationTime: fc.integer({ min: 0, max: 2 ** 50 }),
  movieTimescale: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  layout: fc.oneof(
    fc.constant<DataLayout>({ _tag: "Plain" }),
    fc.constant<DataLayout>({ _tag: "Split" }),
    fc.integer({ min: 8, max: 2 ** 32 - 1 }).map((reservedBytes): DataLayout => ({ _tag: "Reserved", reservedBytes }))
  ),
  streamName: fc.string({ unit: "grapheme", maxLength: 40 })
})

/**
 * A journal as the recorder writes it: header, both tracks, then chunks, and the 'F' record of a finalize when
 * `finalPath` is given; with the expected decoded records.
 */
const journal = (chunks: ReadonlyArray<ChunkInput>, header = defaultHeader, finalPath?: string) => {
  const w = new ByteWriter(8)
  const ends: Array<number> = []
  const expected: Array<JournalRecord> = []
  writeHeaderRecord(w, header)
  expected.push({ type: "header", header })
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
  if (finalPath !== undefined) {
    writeFinalizingRecord(w, finalPath)
    expected.push({ type: "finalizing", finalPath })
    ends.push(w.length)
  }
  return { bytes: Buffer.from(w.bytes), ends, expected }
}

/** Records as plain JSON, bytes as number arrays, for deep comparison. */
const plain = (records: ReadonlyArray<JournalRecord>) =>
  JSON.parse(JSON.stringify(records, (_, v) => (v instanceof Uint8Array ? [...v] : v)))

describe("the recording journal", () => {
  it("decodes what was written, record for record: header fields, tracks, chunks, the finalizing record", () =>
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 20 }), header, fc.option(fc.string({ maxLength: 200 })), (
        chunks,
        head,
        finalPath
      ) => {
        const { bytes, expected } = journal(chunks, head, finalPath ?? undefined)
        assert.deepStrictEqual(plain(readJournal(bytes)), plain(expected))
        assert.strictEqual(readJournalPrefix(bytes).length, bytes.length)
      }),
      { numRuns: 100 }
    ))

  it("a journal cut anywhere yields exactly the records completed before the cut, and where they end", () =>
    fc.assert(fc.property(fc.array(chunk, { minLength: 1, maxLength: 6 }), fc.nat(), (chunks, at) => {
      const { bytes, ends, expected } = journal(chunks, defaultHeader, "/records/final.mp4")
      const cut = at % (bytes.length + 1)
      const complete = ends.filter((end) => end <= cut).length
      const prefix = readJournalPrefix(bytes.subarray(0, cut))
      assert.deepStrictEqual(plain(prefix.records), plain(expected.slice(0, complete)))
      assert.strictEqual(prefix.length, complete === 0 ? 0 : ends[complete - 1])
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

  it("the reserved and split data files: a free box of the reservation, or only free + mdat", () => {
    const reserved = dataFileHeader({ _tag: "Reserved", reservedBytes: 8192 })
    assert.strictEqual(reserved.length, 32 + 8192 + 16)
    assert.strictEqual(dataStartOf({ _tag: "Reserved", reservedBytes: 8192 }), reserved.length)
    const boxes = [[0, 32, "ftyp"], [32, 8192, "free"], [32 + 8192, 8, "free"], [32 + 8200, 0, "mdat"]] as const
    for (const [at, size, type] of boxes) {
      assert.deepStrictEqual([reserved.readUInt32BE(at), reserved.toString("latin1", at + 4, at + 8)], [size, type])
    }
    const split = dataFileHeader({ _tag: "Split" })
    assert.deepStrictEqual([split.length, split.readUInt32BE(0), split.toString("latin1", 4, 8)], [16, 8, "free"])
    assert.deepStrictEqual([split.readUInt32BE(8), split.toString("latin1", 12, 16)], [0, "mdat"])
    assert.strictEqual(headerPathOf("/tmp/.id_1.mp4.tmp"), "/tmp/.id_1.mp4.header")
    assert.deepStrictEqual(dataPathsOfHeader("/tmp/.id_1.mp4.header"), ["/tmp/.id_1.mp4.tmp", "/tmp/.id_1.mp4"])
  })

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
