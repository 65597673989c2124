/** Which download names are refused before the disk is touched, and how a record file is labelled. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { contentDisposition, recordContentType, refusedRecordFileName } from "../src/http/record-file.ts"

describe("refusedRecordFileName", () => {
  const refused: ReadonlyArray<readonly [name: string, reason: RegExp]> = [
    ["", /empty/],
    [".", /starts with a dot/],
    ["..", /starts with a dot/],
    ["../etc/passwd", /path separator/],
    ["a/b.mp4", /path separator/],
    ["..\\secret.mp4", /path separator/],
    ["a.mp4\u0000.txt", /control character/],
    ["a\r\nb.mp4", /control character/],
    [".hidden.mp4", /starts with a dot/],
    [".x.part", /starts with a dot/],
    ["x%2f..%2fsecret.mp4", /percent escape/],
    ["a%2Fb.mp4", /percent escape/],
    ["a%5cb.mp4", /percent escape/],
    ["a%00.mp4", /percent escape/],
    ["rec.mp4.part", /being written/],
    ["rec.tmp", /being written/],
    ["rec.tmp.idx", /being written/],
    ["rec.HEADER", /being written/],
    ["x".repeat(256), /longer than 255/]
  ]
  it("refuses separators, dot files, control characters, escapes left after decoding and unfinished files", () => {
    for (const [name, reason] of refused) {
      assert.match(refusedRecordFileName(name) ?? "accepted", reason, JSON.stringify(name))
    }
  })

  it("accepts the names the recorder writes", () => {
    const names = ["stream.mp4", "cam-1563776083752-1563776090000.mp4", "my \"quoted\" file.mkv", "café.webm", "1%.ts"]
    for (const name of names) {
      assert.isUndefined(refusedRecordFileName(name), name)
    }
  })

  it("never accepts a name that could step out of the directory", () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      for (const name of [`${a}/${b}`, `${a}\\${b}`, `.${a}`, `${a}\u0000${b}`]) {
        assert.isDefined(refusedRecordFileName(name), JSON.stringify(name))
      }
    }))
  })
})

describe("recordContentType", () => {
  it("maps the record containers by extension and anything else to octet-stream", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["a.mp4", "video/mp4"],
      ["a.MP4", "video/mp4"],
      ["a.webm", "video/webm"],
      ["a.mkv", "video/x-matroska"],
      ["a.ts", "video/mp2t"],
      ["a.flv", "application/octet-stream"],
      ["noextension", "application/octet-stream"]
    ]
    for (const [name, type] of cases) assert.strictEqual(recordContentType(name), type, name)
  })
})

describe("contentDisposition", () => {
  it("is exactly the manual's form, with quotes and backslashes escaped", () => {
    assert.strictEqual(contentDisposition("inline", "stream.mp4"), "inline;filename=\"stream.mp4\"")
    assert.strictEqual(contentDisposition("attachment", "stream.mp4"), "attachment;filename=\"stream.mp4\"")
    assert.strictEqual(contentDisposition("inline", "a \"b\" c\\d.mp4"), "inline;filename=\"a \\\"b\\\" c\\\\d.mp4\"")
  })

  it("adds filename*=UTF-8'' for names outside printable ASCII, with an ASCII stand-in", () => {
    assert.strictEqual(
      contentDisposition("attachment", "café 🎥.mp4"),
      "attachment;filename=\"caf? ?.mp4\";filename*=UTF-8''caf%C3%A9%20%F0%9F%8E%A5.mp4"
    )
  })

  it("always yields a header value Node accepts (printable Latin-1 only)", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (name) => {
      assert.match(contentDisposition("inline", name), /^[\u0020-\u007e]*$/)
    }))
  })
})
