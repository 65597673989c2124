import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { dataFileHeader, REGION_AT } from "../src/containers/isobmff/data-layout.ts"
import { fitsReservation, regionWrites } from "../src/containers/isobmff/reserved-region.ts"

/** A moov-typed box of `size` bytes whose body is `fill` (the region test only looks at box structure). */
const moovBox = (size: number, fill: number): Buffer => {
  const box = Buffer.alloc(size, fill)
  box.writeUInt32BE(size, 0)
  box.write("moov", 4, "latin1")
  return box
}

/** Top-level boxes of a file image; undefined when they do not chain up to the mdat. */
const parse = (file: Buffer) => {
  const boxes: Array<{ type: string; at: number; size: number }> = []
  let at = 0
  while (at + 8 <= file.length) {
    const size = file.readUInt32BE(at)
    const type = file.toString("latin1", at + 4, at + 8)
    boxes.push({ type, at, size })
    if (type === "mdat") return boxes
    if (size < 8 || at + size > file.length) return undefined
    at += size
  }
  return undefined
}

const apply = (file: Buffer, write: { position: number; bytes: Uint8Array }, length = write.bytes.length) =>
  file.set(write.bytes.subarray(0, length), write.position)

const region = fc.integer({ min: 16, max: 4096 }).chain((reserved) =>
  fc.record({
    reserved: fc.constant(reserved),
    // The moov before (0: none yet) and the new one; both fit the reservation.
    old: fc.integer({ min: 0, max: reserved }).filter((m) => m === 0 || (m >= 16 && fitsReservation(m, reserved))),
    next: fc.integer({ min: 16, max: reserved }).filter((m) => fitsReservation(m, reserved)),
    // A crash after this many writes, the one in progress torn after `torn` of its bytes.
    done: fc.integer({ min: 0, max: 3 }),
    torn: fc.nat()
  })
)

describe("writing a moov into the reserved region", () => {
  it("leaves at every crash point a file whose boxes chain to the mdat, with the old moov, the new one or none", () =>
    fc.assert(
      fc.property(region, ({ reserved, old, next, done, torn }) => {
        const file = Buffer.concat([dataFileHeader({ _tag: "Reserved", reservedBytes: reserved }), Buffer.alloc(64, 9)])
        const before = old === 0 ? undefined : moovBox(old, 1)
        if (before !== undefined) for (const write of regionWrites(before, reserved)) apply(file, write)
        const after = moovBox(next, 2)
        const writes = regionWrites(after, reserved)
        writes.slice(0, done).forEach((write) => apply(file, write))
        // The 8-byte header writes (steps 1 and 3) lie in one sector and land whole; the body can be torn anywhere.
        if (done === 1) apply(file, writes[1]!, torn % (writes[1]!.bytes.length + 1))
        const boxes = parse(file)
        assert.isDefined(boxes, `boxes chain to the mdat after ${done} writes`)
        const moovs = boxes!.filter((b) => b.type === "moov")
        assert.isAtMost(moovs.length, 1)
        const seen = moovs[0] && file.subarray(moovs[0].at, moovs[0].at + moovs[0].size)
        if (done === 3) assert.isTrue(seen !== undefined && seen.equals(after), "the new moov, whole")
        else if (done === 0) assert.isTrue(before === undefined ? seen === undefined : seen!.equals(before))
        else assert.isUndefined(seen, "no half-written moov is ever visible")
        assert.strictEqual(boxes!.at(-1)!.at, REGION_AT + reserved + 8, "the mdat stays where the media starts")
      }),
      { numRuns: 500 }
    ))

  it("fits a moov exactly or with room for a free box after it", () => {
    assert.deepStrictEqual([100, 93, 92, 101].map((m) => fitsReservation(m, 100)), [true, false, true, false])
  })
})
