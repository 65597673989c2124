import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { parseProperties } from "../src/config/properties.ts"

describe("parseProperties", () => {
  it("reads key=value lines, skips comments and blank lines, trims around key and value", () => {
    const parsed = parseProperties([
      "# a comment",
      "! another comment",
      "",
      "   record_dir =  /var/records  ",
      "\tencode_record_name=true,HEX",
      "stream_record_policy_template={streamName}-{startTime}",
      "  # indented comment",
      "exclude_record_name_characters=:.,/\\#",
      "empty="
    ].join("\n"))
    assert.deepStrictEqual(parsed.entries, [
      { key: "record_dir", value: "/var/records", line: 4 },
      { key: "encode_record_name", value: "true,HEX", line: 5 },
      { key: "stream_record_policy_template", value: "{streamName}-{startTime}", line: 6 },
      { key: "exclude_record_name_characters", value: ":.,/\\#", line: 8 },
      { key: "empty", value: "", line: 9 }
    ])
    assert.deepStrictEqual(parsed.duplicates, [])
    assert.deepStrictEqual(parsed.malformed, [])
  })

  it("splits on the first = so values may contain =", () => {
    assert.deepStrictEqual(parseProperties("a=b=c").entries, [{ key: "a", value: "b=c", line: 1 }])
  })

  it("counts lines across CRLF and CR line ends", () => {
    const parsed = parseProperties("a=1\r\n\r\nb=2\rc=3")
    assert.deepStrictEqual(parsed.entries.map((entry) => [entry.key, entry.line]), [["a", 1], ["b", 3], ["c", 4]])
  })

  it("lets a later duplicate win, keeping the first position, and reports it", () => {
    const parsed = parseProperties("a=1\nb=2\na=3\n")
    assert.deepStrictEqual(parsed.entries, [{ key: "a", value: "3", line: 3 }, { key: "b", value: "2", line: 2 }])
    assert.deepStrictEqual(parsed.duplicates, [{ key: "a", line: 3, previousLine: 1 }])
  })

  it("reports lines without = or without a key as malformed", () => {
    const parsed = parseProperties("ok=1\nrecord_dir /tmp\n=value\n")
    assert.deepStrictEqual(parsed.malformed, [{ line: 2, text: "record_dir /tmp" }, { line: 3, text: "=value" }])
    assert.deepStrictEqual(parsed.entries, [{ key: "ok", value: "1", line: 1 }])
  })

  it("round-trips any map of keys to single-line values", () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_.]{0,20}$/)
    const value = fc.string({ unit: "binary", maxLength: 30 }).map((text) => text.replace(/[\r\n]/g, "").trim())
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 10 }), (map) => {
      const text = Object.entries(map).map(([k, v]) => `${k}=${v}`).join("\n")
      const parsed = parseProperties(text)
      assert.deepStrictEqual(Object.fromEntries(parsed.entries.map((entry) => [entry.key, entry.value])), map)
      assert.deepStrictEqual(parsed.entries.map((entry) => entry.line), Object.keys(map).map((_, index) => index + 1))
    }))
  })
})
