/**
 * The mixed picture's timeline and grid as properties: segments tile the whole duration on the frame grid, each
 * segment holds exactly the participants whose video covers it (so its cell count is theirs), cells stay inside the
 * picture without overlapping, and participants keep the order in which they first appeared.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { cellsOf, gridOf, type LayoutSource, snap, snapSpans, timeline } from "../src/mixer/mixer-layout.ts"

const FPS = 30

const spanArb = fc.tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 300 }))
  .map(([start, length]) => ({ start: start / 10, end: (start + length) / 10 }))

const sourcesArb = fc.uniqueArray(
  fc.record({ id: fc.stringMatching(/^[a-z]{1,6}$/), spans: fc.array(spanArb, { minLength: 0, maxLength: 3 }) }),
  { selector: (source) => source.id, minLength: 0, maxLength: 10 }
)

const presentAt = (sources: ReadonlyArray<LayoutSource>, t: number): Array<string> =>
  sources.filter((source) => snapSpans(source.spans, FPS).some((span) => span.start <= t && t < span.end))
    .map((source) => source.id)
    .sort()

describe("timeline", () => {
  it("tiles [0, duration) with segments on the frame grid", () => {
    fc.assert(fc.property(sourcesArb, fc.integer({ min: 1, max: 900 }), (sources, tenths) => {
      const duration = tenths / 10
      const segments = timeline(sources, duration, FPS)
      assert.strictEqual(segments[0]!.start, 0)
      assert.strictEqual(segments.at(-1)!.end, snap(duration, FPS))
      segments.forEach((segment, i) => {
        assert.isAbove(segment.end, segment.start)
        if (i > 0) assert.strictEqual(segment.start, segments[i - 1]!.end)
        assert.closeTo(segment.start * FPS, Math.round(segment.start * FPS), 1e-9)
      })
    }))
  })

  it("puts in each segment exactly the participants whose video covers it, everywhere inside it", () => {
    fc.assert(fc.property(sourcesArb, fc.integer({ min: 1, max: 900 }), (sources, tenths) => {
      for (const segment of timeline(sources, tenths / 10, FPS)) {
        const inside = [segment.start, (segment.start + segment.end) / 2, segment.end - 1e-6]
        for (const t of inside) assert.deepStrictEqual([...segment.present].sort(), presentAt(sources, t))
        assert.strictEqual(cellsOf(segment.present.length, 1280, 720).length, segment.present.length)
      }
    }))
  })

  it("keeps participants in the order of their first appearance", () => {
    fc.assert(fc.property(sourcesArb, (sources) => {
      const first = new Map(sources.map((s) => [s.id, Math.min(...snapSpans(s.spans, FPS).map((span) => span.start))]))
      for (const segment of timeline(sources, 90, FPS)) {
        const starts = segment.present.map((id) => first.get(id)!)
        assert.deepStrictEqual(starts, [...starts].sort((a, b) => a - b))
      }
    }))
  })

  it("cuts where an extra cut falls even when nobody joins or leaves there", () => {
    const segments = timeline([{ id: "a", spans: [{ start: 0, end: 10 }] }], 10, FPS, [3.99])
    assert.deepStrictEqual(segments.map((s) => [s.start, s.end]), [[0, 4], [4, 10]])
  })

  it("lays out a late join, a leave and a re-add as the fixture of the mix test has them", () => {
    const segments = timeline([
      { id: "alice", spans: [{ start: 0, end: 6 }] },
      { id: "bob", spans: [{ start: 2, end: 6 }] },
      { id: "carol", spans: [{ start: 0.5, end: 2 }, { start: 4, end: 5.5 }] }
    ], 6, FPS)
    assert.deepStrictEqual(segments.map((s) => [s.start, s.end, s.present.join(",")]), [
      [0, 0.5, "alice"],
      [0.5, 2, "alice,carol"],
      [2, 4, "alice,bob"],
      [4, 5.5, "alice,carol,bob"],
      [5.5, 6, "alice,bob"]
    ])
  })
})

describe("grid", () => {
  it.each([
    [1, 1, 1], [2, 2, 1], [3, 2, 2], [4, 2, 2], [5, 3, 2], [6, 3, 2], [7, 3, 3], [9, 3, 3], [10, 4, 3]
  ])("%i participants -> %i columns x %i rows", (count, columns, rows) => {
    assert.deepStrictEqual(gridOf(count), { columns, rows })
  })

  it("gives every participant an even-sized cell inside the picture, none overlapping", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 80, max: 1920 }).map((w) => w * 2),
      fc.integer({ min: 45, max: 1080 }).map((h) => h * 2),
      (count, width, height) => {
        const cells = cellsOf(count, width, height)
        assert.strictEqual(cells.length, count)
        cells.forEach((cell, i) => {
          assert.isTrue(cell.width % 2 === 0 && cell.height % 2 === 0 && cell.width > 0 && cell.height > 0)
          assert.isTrue(cell.x >= 0 && cell.y >= 0 && cell.x + cell.width <= width && cell.y + cell.height <= height)
          for (const other of cells.slice(i + 1)) {
            const apart = cell.x + cell.width <= other.x || other.x + other.width <= cell.x ||
              cell.y + cell.height <= other.y || other.y + other.height <= cell.y
            assert.isTrue(apart, `${JSON.stringify(cell)} overlaps ${JSON.stringify(other)}`)
          }
        })
      }
    ))
  })

  it("centres a last row that is not full", () => {
    assert.deepStrictEqual(cellsOf(3, 1280, 720), [
      { x: 0, y: 0, width: 640, height: 360 },
      { x: 640, y: 0, width: 640, height: 360 },
      { x: 320, y: 360, width: 640, height: 360 }
    ])
  })
})
