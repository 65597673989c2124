/**
 * The reorder buffer: packets come out in sequence order across the 16-bit wrap, duplicates and late packets are
 * dropped, and gaps are declared lost after the wait or when the buffer is full.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { type ReorderOutput, ReorderBuffer } from "../src/protocols/webrtc/reorder-buffer.ts"

const SEQ = 65536

/** Pushes every (sequence number, arrival) and flushes; returns what came out. */
const run = (buffer: ReorderBuffer<number>, arrivals: ReadonlyArray<readonly [number, number]>) => {
  const out: Array<ReorderOutput<number>> = []
  for (const [seq, at] of arrivals) out.push(...buffer.push(seq % SEQ, seq, at))
  out.push(...buffer.flush())
  return out
}

const packets = (out: ReadonlyArray<ReorderOutput<number>>) =>
  out.flatMap((o) => (o._tag === "Packet" ? [o.packet] : []))
const lostCount = (out: ReadonlyArray<ReorderOutput<number>>) =>
  out.reduce((sum, o) => sum + (o._tag === "Lost" ? o.count : 0), 0)

/** A sequence with neighbours swapped here and there (the reordering a network does), arriving 1 ms apart. */
const shuffledArb = fc
  .tuple(fc.integer({ min: 0, max: SEQ - 1 }), fc.integer({ min: 2, max: 400 }), fc.array(fc.nat(), { maxLength: 60 }))
  .map(([start, length, swaps]) => {
    const order = Array.from({ length }, (_, i) => start + i)
    for (const swap of swaps) {
      const i = swap % (length - 1)
      ;[order[i], order[i + 1]] = [order[i + 1]!, order[i]!]
    }
    return order
  })

describe("ReorderBuffer", () => {
  it("puts locally reordered packets back in order across the wrap, with nothing lost", () => {
    fc.assert(fc.property(shuffledArb, (order) => {
      const buffer = new ReorderBuffer<number>()
      const out = run(buffer, order.map((seq, i) => [seq, i] as const))
      const sorted = [...order].sort((a, b) => a - b)
      // The first packet starts the stream; anything sent before it that arrives later is late.
      const first = order[0]!
      assert.deepStrictEqual(packets(out), sorted.filter((seq) => seq >= first))
      assert.strictEqual(lostCount(out), 0)
      assert.strictEqual(buffer.stats.late, sorted.filter((seq) => seq < first).length)
    }))
  })

  it("declares exactly the missing packets lost and releases the rest in order", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: SEQ - 1 }),
      fc.integer({ min: 3, max: 300 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (start, length, drops) => {
        const dropped = new Set(drops.map((d) => start + 1 + (d % (length - 2))))
        const sent = Array.from({ length }, (_, i) => start + i).filter((seq) => !dropped.has(seq))
        const buffer = new ReorderBuffer<number>({ maxWaitMs: 50 })
        const out = run(buffer, sent.map((seq, i) => [seq, i * 10] as const))
        assert.deepStrictEqual(packets(out), sent)
        assert.strictEqual(lostCount(out), dropped.size)
        assert.strictEqual(buffer.stats.lost, dropped.size)
      }
    ))
  })

  it("waits maxWaitMs for a missing packet, takes it if it comes, and gives up after", () => {
    const buffer = new ReorderBuffer<number>({ maxWaitMs: 100 })
    assert.deepStrictEqual(packets(buffer.push(10, 10, 0)), [10])
    assert.deepStrictEqual(buffer.push(12, 12, 10), [], "12 waits for 11")
    assert.deepStrictEqual(packets(buffer.push(11, 11, 90)), [11, 12], "11 came in time")
    assert.deepStrictEqual(buffer.push(14, 14, 100), [])
    assert.deepStrictEqual(buffer.push(15, 15, 150), [])
    assert.deepStrictEqual(buffer.push(16, 16, 201), [
      { _tag: "Lost", count: 1 },
      { _tag: "Packet", packet: 14 },
      { _tag: "Packet", packet: 15 },
      { _tag: "Packet", packet: 16 }
    ])
    assert.deepStrictEqual(buffer.push(13, 13, 210), [], "13 is too late now")
    assert.deepStrictEqual(buffer.push(16, 16, 211), [], "and 16 a duplicate")
    assert.strictEqual(buffer.stats.late, 2)
  })

  it("gives up on a gap when the buffer is full, however little time has passed", () => {
    const buffer = new ReorderBuffer<number>({ capacity: 4, maxWaitMs: 10_000 })
    buffer.push(0, 0, 0)
    for (const seq of [2, 3, 4, 5]) assert.deepStrictEqual(buffer.push(seq, seq, 1), [])
    const out = buffer.push(6, 6, 1)
    assert.strictEqual(lostCount(out), 1)
    assert.deepStrictEqual(packets(out), [2, 3, 4, 5, 6])
  })

  it("starts over when the sequence jumps far ahead (a restarted sender), releasing what it held", () => {
    const buffer = new ReorderBuffer<number>()
    buffer.push(100, 100, 0)
    buffer.push(102, 102, 1)
    const out = buffer.push(30_000, 30_000, 2)
    assert.deepStrictEqual(packets(out), [102, 30_000])
    assert.strictEqual(buffer.stats.resyncs, 1)
    assert.deepStrictEqual(packets(buffer.push(30_001, 30_001, 3)), [30_001])
  })
})
