import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { Amf0Date, Amf0EcmaArray, type Amf0Value, decodeAmf0, encodeAmf0 } from "../src/protocols/rtmp/amf0.ts"
import { RtmpProtocolError } from "../src/protocols/rtmp/protocol-error.ts"

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")

// Byte layouts written out from the AMF0 specification (section 2), one per type marker.
const vectors: ReadonlyArray<readonly [string, Amf0Value, string]> = [
  ["number 1.0 (2.2)", 1, "00 3ff0000000000000"],
  ["number -2.5", -2.5, "00 c004000000000000"],
  ["boolean true (2.3)", true, "01 01"],
  ["boolean false", false, "01 00"],
  ["string (2.4)", "connect", "02 0007 636f6e6e656374"],
  ["empty string", "", "02 0000"],
  ["utf-8 string", "é", "02 0002 c3a9"],
  ["object (2.5)", { app: "live" }, "03 0003 617070 02 0004 6c697665 000009"],
  ["null (2.7)", null, "05"],
  ["undefined (2.8)", undefined, "06"],
  ["ECMA array (2.10)", new Amf0EcmaArray({ width: 640 }), "08 00000001 0005 7769647468 00 4084000000000000 000009"],
  ["strict array (2.12)", [1, "a"], "0a 00000002 00 3ff0000000000000 02 0001 61"],
  ["date (2.13)", new Amf0Date(0), "0b 0000000000000000 0000"],
  ["nested object", { a: { b: null } }, "03 0001 61 03 0001 62 05 000009 000009"]
]

describe("AMF0", () => {
  it.each(vectors)("encodes and decodes %s", (_name, value, bytes) => {
    assert.deepStrictEqual(encodeAmf0(value).toString("hex"), hex(bytes).toString("hex"))
    assert.deepStrictEqual(decodeAmf0(hex(bytes)), [value])
  })

  it("uses the long string marker (2.14) past 65535 bytes", () => {
    const long = "x".repeat(70_000)
    const bytes = encodeAmf0(long)
    assert.strictEqual(bytes[0], 0x0c)
    assert.strictEqual(bytes.readUInt32BE(1), 70_000)
    assert.deepStrictEqual(decodeAmf0(bytes), [long])
  })

  it("decodes a whole command: ffmpeg's publish", () => {
    // "publish", 5, null, "test?login=bob", "live" as ffmpeg 5.1 sends them.
    const body = hex(
      "02 0007 7075626c697368 00 4014000000000000 05 02 000e 746573743f6c6f67696e3d626f62 02 0004 6c697665"
    )
    assert.deepStrictEqual(decodeAmf0(body), ["publish", 5, null, "test?login=bob", "live"])
  })

  it("keeps a __proto__ key as data", () => {
    const bytes = hex("03 0009 5f5f70726f746f5f5f 00 3ff0000000000000 000009")
    const decoded = decodeAmf0(bytes)[0] as Record<string, unknown>
    assert.strictEqual(Object.getPrototypeOf(decoded), Object.prototype)
    assert.deepStrictEqual(Object.keys(decoded), ["__proto__"])
  })

  it.each([
    ["truncated number", "00 3ff0"],
    ["truncated string", "02 0005 6162"],
    ["object without end marker", "03 0001 61 05"],
    ["wrong object end marker", "03 0000 05"],
    ["unsupported marker (AMF3 switch)", "11 00"],
    ["reference marker", "07 0001"],
    ["strict array count past the end", "0a ffffffff 05"]
  ])("rejects %s", (_name, bytes) => {
    assert.throws(() => decodeAmf0(hex(bytes)), RtmpProtocolError, /^AMF0 decode error/)
  })

  it("round-trips arbitrary values", () => {
    const key = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((k) => k !== "__proto__")
    const { value } = fc.letrec<{ value: Amf0Value }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.double(),
        fc.boolean(),
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.constant(null),
        fc.constant(undefined),
        fc.double({ noNaN: true }).map((ms) => new Amf0Date(ms, 0)),
        fc.dictionary(key, tie("value"), { maxKeys: 4 }),
        fc.dictionary(key, tie("value"), { maxKeys: 4 }).map((entries) => new Amf0EcmaArray(entries)),
        fc.array(tie("value"), { maxLength: 4 })
      )
    }))
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), (values) => {
        assert.deepStrictEqual(decodeAmf0(encodeAmf0(...values)), values)
      })
    )
  })
})
