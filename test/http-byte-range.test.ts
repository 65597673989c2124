/**
 * The Range header against a file size (RFC 9110 §14.1.2, §14.2, §14.4, §15.5.17), as a table and as properties.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { type ByteRange, contentRange, parseRange, unsatisfiedRange } from "../src/http/byte-range.ts"

const part = (start: number, end: number): ByteRange => ({ _tag: "Part", start, end })
const whole: ByteRange = { _tag: "Whole" }
const unsatisfiable: ByteRange = { _tag: "Unsatisfiable" }

describe("parseRange", () => {
  const cases: ReadonlyArray<readonly [header: string | undefined, size: number, expected: ByteRange]> = [
    [undefined, 1000, whole],
    ["bytes=0-99", 1000, part(0, 99)],
    ["bytes=100-", 1000, part(100, 999)],
    ["bytes=-500", 1000, part(500, 999)],
    ["bytes=-5000", 1000, part(0, 999)],
    ["bytes=990-5000", 1000, part(990, 999)],
    ["bytes=999-999", 1000, part(999, 999)],
    ["Bytes = 5-9", 1000, part(5, 9)],
    ["bytes=1000-", 1000, unsatisfiable],
    ["bytes=1000-2000", 1000, unsatisfiable],
    ["bytes=-0", 1000, unsatisfiable],
    ["bytes=0-", 0, unsatisfiable],
    ["bytes=-10", 0, unsatisfiable],
    ["bytes=0-1,5-6", 1000, whole],
    ["bytes=9-5", 1000, whole],
    ["bytes=a-b", 1000, whole],
    ["bytes=5", 1000, whole],
    ["bytes=-", 1000, whole],
    ["bytes=+1-2", 1000, whole],
    ["items=0-5", 1000, whole],
    ["0-5", 1000, whole]
  ]
  it("reads each form of a single byte range", () => {
    for (const [header, size, expected] of cases) {
      assert.deepStrictEqual(parseRange(header, size), expected, `${header} of ${size}`)
    }
  })

  it("a first-last range is served from first, clamped to the end, or unsatisfiable past the end", () => {
    fc.assert(fc.property(fc.nat(1_000_000), fc.nat(1_000_000), fc.nat(1_000_000), (size, a, length) => {
      const b = a + length
      const range = parseRange(`bytes=${a}-${b}`, size)
      assert.deepStrictEqual(range, a >= size ? unsatisfiable : part(a, Math.min(b, size - 1)))
    }))
  })

  it("a suffix range ends at the last byte and spans min(n, size) bytes", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 2_000_000 }), (size, n) => {
      const range = parseRange(`bytes=-${n}`, size)
      assert.strictEqual(range._tag, "Part")
      if (range._tag === "Part") {
        assert.strictEqual(range.end, size - 1)
        assert.strictEqual(range.end - range.start + 1, Math.min(n, size))
      }
    }))
  })
})

describe("Content-Range", () => {
  it("names the span and the size, or only the size for a 416", () => {
    assert.strictEqual(contentRange({ start: 0, end: 499 }, 1234), "bytes 0-499/1234")
    assert.strictEqual(unsatisfiedRange(1234), "bytes */1234")
  })
})
