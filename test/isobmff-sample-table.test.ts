import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ByteWriter } from "../src/containers/isobmff/byte-writer.ts"
import { SampleTable } from "../src/containers/isobmff/sample-table.ts"
import {
  writeChunkOffsets,
  writeCtts,
  writeStsc,
  writeStss,
  writeStsz,
  writeStts
} from "../src/containers/isobmff/sample-table-boxes.ts"

interface Sample {
  readonly size: number
  readonly delta: number
  readonly offset: number
  readonly sync: boolean
}

const sample = fc.record({
  size: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  delta: fc.oneof(fc.constantFrom(3000, 3003, 1024), fc.integer({ min: 0, max: 100_000 })),
  offset: fc.oneof(fc.constant(0), fc.constantFrom(3000, 6000, -3000), fc.integer({ min: -50_000, max: 50_000 })),
  sync: fc.boolean()
})

/** Builds a table from samples, cutting chunks after the given sample counts. */
const build = (samples: ReadonlyArray<Sample>, allSync: boolean, chunkSizes: ReadonlyArray<number>) => {
  const table = new SampleTable(allSync, 777)
  let decodeTime = 0
  samples.forEach((s, i) => {
    table.add(s.size, decodeTime, s.offset, s.sync)
    if (i < samples.length - 1) decodeTime += s.delta
  })
  let offset = 48
  let remaining = samples.length
  for (const size of chunkSizes) {
    const count = Math.min(size, remaining)
    if (count === 0) break
    table.addChunk(offset, count)
    offset += 1000
    remaining -= count
  }
  if (remaining > 0) table.addChunk(offset, remaining)
  return table
}

/** A FullBox's payload after version/flags, found by type among the boxes written. */
const boxes = (bytes: Buffer) => {
  const found = new Map<string, { version: number; body: Buffer }>()
  for (let p = 0; p < bytes.length;) {
    const size = bytes.readUInt32BE(p)
    const type = bytes.toString("latin1", p + 4, p + 8)
    found.set(type, { version: bytes[p + 8]!, body: bytes.subarray(p + 12, p + size) })
    p += size
  }
  return found
}

/** Expands (count, value) runs of an stts/ctts body. */
const runs = (body: Buffer, signed: boolean) => {
  const values: Array<number> = []
  for (let i = 0; i < body.readUInt32BE(0); i++) {
    const count = body.readUInt32BE(4 + i * 8)
    const value = signed ? body.readInt32BE(8 + i * 8) : body.readUInt32BE(8 + i * 8)
    for (let k = 0; k < count; k++) values.push(value)
  }
  return values
}

const serialize = (table: SampleTable, wide = false) => {
  const w = new ByteWriter(16)
  writeStts(w, table)
  writeCtts(w, table)
  writeStss(w, table)
  writeStsc(w, table)
  writeStsz(w, table)
  writeChunkOffsets(w, table, wide)
  return Buffer.from(w.bytes)
}

describe("SampleTable and its stbl boxes", () => {
  it("round-trip every sample's size, duration, composition offset and sync flag through the boxes", () =>
    fc.assert(
      fc.property(
        fc.array(sample, { minLength: 1, maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }),
        fc.boolean(),
        (samples, chunkSizes, allSync) => {
          const table = build(samples, allSync, chunkSizes)
          const found = boxes(serialize(table))
          const n = samples.length
          // stts: deltas, the last sample repeating the previous delta (or the default for one sample).
          const deltas = samples.slice(0, -1).map((s) => s.delta)
          assert.deepStrictEqual(runs(found.get("stts")!.body, false), [...deltas, n > 1 ? deltas.at(-1)! : 777])
          // ctts only when some offset is non-zero; version 1 exactly when one is negative.
          const offsets = samples.map((s) => s.offset)
          const ctts = found.get("ctts")
          if (offsets.every((o) => o === 0)) assert.isUndefined(ctts)
          else {
            assert.deepStrictEqual(runs(ctts!.body, true), offsets)
            assert.strictEqual(ctts!.version, offsets.some((o) => o < 0) ? 1 : 0)
          }
          // stss: absent when every sample is sync.
          const syncNumbers = samples.flatMap((s, i) => (s.sync ? [i + 1] : []))
          const stss = found.get("stss")
          if (allSync || syncNumbers.length === n) assert.isUndefined(stss)
          else {
            const body = stss!.body
            const numbers = Array.from({ length: body.readUInt32BE(0) }, (_, i) => body.readUInt32BE(4 + i * 4))
            assert.deepStrictEqual(numbers, syncNumbers)
          }
          // stsz.
          const stsz = found.get("stsz")!.body
          const uniform = stsz.readUInt32BE(0)
          const sizes = uniform !== 0
            ? Array.from({ length: stsz.readUInt32BE(4) }, () => uniform)
            : Array.from({ length: stsz.readUInt32BE(4) }, (_, i) => stsz.readUInt32BE(8 + i * 4))
          assert.deepStrictEqual(sizes, samples.map((s) => s.size))
          // stsc expands to the chunk sizes; stco lists one offset per chunk.
          const stsc = found.get("stsc")!.body
          const entries = Array.from(
            { length: stsc.readUInt32BE(0) },
            (_, i) => [stsc.readUInt32BE(4 + i * 12), stsc.readUInt32BE(8 + i * 12)]
          )
          const chunks = table.chunkCount
          const perChunk: Array<number> = []
          entries.forEach(([first, count], i) => {
            const next = entries[i + 1]?.[0] ?? chunks + 1
            for (let c = first!; c < next; c++) perChunk.push(count!)
          })
          assert.deepStrictEqual(perChunk, Array.from({ length: chunks }, (_, c) => table.chunkSampleCounts.get(c)))
          assert.strictEqual(perChunk.reduce((a, b) => a + b, 0), n)
          assert.strictEqual(found.get("stco")!.body.readUInt32BE(0), chunks)
          // mdhd duration and presentation end.
          assert.strictEqual(table.mediaDuration, runs(found.get("stts")!.body, false).reduce((a, b) => a + b, 0))
          let t = 0
          let end = 0
          runs(found.get("stts")!.body, false).forEach((d, i) => {
            end = Math.max(end, t + offsets[i]! + d)
            t += d
          })
          assert.strictEqual(table.presentationEnd(), end)
        }
      ),
      { numRuns: 200 }
    ))

  it("rolling back to an earlier sample count equals never having added the rest", () =>
    fc.assert(
      fc.property(fc.array(sample, { minLength: 2, maxLength: 5000 }), fc.nat(), (samples, cut) => {
        const keep = 1 + (cut % (samples.length - 1))
        const full = build(samples, false, [])
        const chunks = full.chunkCount
        full.truncate(keep, chunks - 1)
        full.addChunk(48, keep)
        const prefix = build(samples.slice(0, keep), false, [])
        assert.deepStrictEqual(serialize(full), serialize(prefix))
        assert.strictEqual(full.bytes, prefix.bytes)
        assert.strictEqual(full.lastDecodeTime, prefix.lastDecodeTime)
        assert.strictEqual(full.presentationEnd(), prefix.presentationEnd())
        assert.deepStrictEqual([full.sttsEntries, full.cttsEntries], [prefix.sttsEntries, prefix.cttsEntries])
      }),
      { numRuns: 50 }
    ))

  it("a chunk that directly follows the track's previous one extends it", () => {
    const table = new SampleTable(true, 1024)
    for (let i = 0; i < 4; i++) table.add(10, i * 1024, 0, true)
    table.addChunk(48, 2)
    table.addChunk(68, 1)
    table.addChunk(100, 1)
    const counts = [table.chunkSampleCounts.get(0), table.chunkSampleCounts.get(1)]
    assert.deepStrictEqual([table.chunkCount, ...counts], [2, 3, 1])
    assert.deepStrictEqual([table.chunkOffsets.get(0), table.chunkOffsets.get(1)], [48, 100])
  })

  it("writes co64 with 64-bit offsets when asked", () => {
    const table = new SampleTable(true, 1024)
    table.add(10, 0, 0, true)
    table.add(10, 1024, 0, true)
    table.addChunk(48, 1)
    table.addChunk(2 ** 33 + 5, 1)
    const body = boxes(serialize(table, true)).get("co64")!.body
    assert.strictEqual(body.readUInt32BE(0), 2)
    assert.deepStrictEqual([body.readBigUInt64BE(4), body.readBigUInt64BE(12)], [48n, 2n ** 33n + 5n])
  })
})
