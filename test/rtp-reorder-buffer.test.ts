/**
 * The RTP reorder buffer: in-order packets pass at once, early ones wait for the gap before them within a few
 * packets or ~100 ms, gaps given up count as lost, duplicates and stragglers as late (RFC 3550 A.1 bounds).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type ReorderOptions, RtpReorderBuffer } from "../src/protocols/rtp/reorder-buffer.ts"
import type { RtpPacket } from "../src/protocols/rtp/rtp-packet.ts"

const packet = (sequenceNumber: number): RtpPacket => ({
  marker: false,
  payloadType: 96,
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp: 0,
  ssrc: 1,
  csrcs: [],
  extension: undefined,
  payload: new Uint8Array(0)
})

/** Pushes sequence numbers (with arrival times) and returns the released sequence numbers, flush included. */
const run = (arrivals: ReadonlyArray<number | readonly [number, number]>, options?: ReorderOptions) => {
  const buffer = new RtpReorderBuffer(options)
  const out: Array<number> = []
  for (const arrival of arrivals) {
    const [seq, at] = typeof arrival === "number" ? [arrival, 0] : arrival
    out.push(...buffer.push(packet(seq), at).map((p) => p.sequenceNumber))
  }
  const beforeFlush = out.length
  out.push(...buffer.flush().map((p) => p.sequenceNumber))
  return { out, beforeFlush, lost: buffer.lost, late: buffer.late }
}

describe("RtpReorderBuffer", () => {
  it("passes packets in order straight through", () => {
    assert.deepStrictEqual(run([5, 6, 7]), { out: [5, 6, 7], beforeFlush: 3, lost: 0, late: 0 })
  })

  it("holds an early packet until the one before it comes", () => {
    const buffer = new RtpReorderBuffer()
    assert.deepStrictEqual(buffer.push(packet(10), 0).map((p) => p.sequenceNumber), [10])
    assert.deepStrictEqual(buffer.push(packet(12), 1).map((p) => p.sequenceNumber), [])
    assert.deepStrictEqual(buffer.push(packet(11), 2).map((p) => p.sequenceNumber), [11, 12])
    assert.strictEqual(buffer.lost, 0)
  })

  it("follows the sequence number across its wrap", () => {
    assert.deepStrictEqual(run([65534, 0, 65535, 1]).out, [65534, 65535, 0, 1])
  })

  it("gives up a gap once more than maxPackets wait behind it, counting it lost", () => {
    const result = run([1, 3, 4, 5, 6], { maxPackets: 3 })
    assert.deepStrictEqual(result, { out: [1, 3, 4, 5, 6], beforeFlush: 5, lost: 1, late: 0 })
  })

  it("gives up a gap when the oldest waiting packet is older than maxDelayMs", () => {
    const result = run([[1, 0], [3, 10], [4, 50], [5, 111]], { maxDelayMs: 100 })
    assert.deepStrictEqual(result, { out: [1, 3, 4, 5], beforeFlush: 4, lost: 1, late: 0 })
  })

  it("drops duplicates and packets whose gap was given up as late", () => {
    // 4 waits for 3 until 9 comes 500 ms later; 3 then comes too late; 9 waits for 5-8 until 10 comes.
    const arrivals = [1, 2, 2, 4, 4, [9, 500], [3, 501], [10, 700]] as const
    assert.deepStrictEqual(run(arrivals), { out: [1, 2, 4, 9, 10], beforeFlush: 5, lost: 5, late: 3 })
  })

  it("follows a source that restarts with far-away sequence numbers, without counting loss", () => {
    const result = run([100, 101, 40000, 40001])
    assert.deepStrictEqual(result, { out: [100, 101, 40000, 40001], beforeFlush: 4, lost: 0, late: 0 })
  })

  it("flush releases what is held, counting the gaps", () => {
    assert.deepStrictEqual(run([1, 3, 6]), { out: [1, 3, 6], beforeFlush: 1, lost: 3, late: 0 })
  })

  it("restores the order of any shuffle within the window after the first packet, losing nothing", () => {
    // The first packet sets where the sequence starts: one that comes before it later is late.
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.array(fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 30 }),
      (start, keys) => {
        const arrivals: Array<number> = [start]
        keys.forEach((block, b) => {
          const order = block.map((key, i) => [key, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1])
          for (const [, i] of order) arrivals.push((start + 1 + b * 8 + i) & 0xffff)
        })
        const expected = arrivals.map((_, i) => (start + i) & 0xffff)
        const result = run(arrivals, { maxPackets: 8 })
        assert.deepStrictEqual(result, { out: expected, beforeFlush: expected.length, lost: 0, late: 0 })
      }
    ))
  })

  it("counts exactly the packets that never came", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.array(fc.boolean(), { minLength: 2, maxLength: 300 }),
      (start, kept) => {
        kept[0] = true
        kept[kept.length - 1] = true
        const arrivals = kept.flatMap((keep, i) => (keep ? [(start + i) & 0xffff] : []))
        const result = run(arrivals, { maxPackets: 4 })
        assert.deepStrictEqual(result.out, arrivals)
        assert.strictEqual(result.lost, kept.filter((keep) => !keep).length)
      }
    ))
  })
})
