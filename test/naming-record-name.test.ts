import { dirname, resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { RecordContainer } from "../src/config/record-formats.ts"
import {
  MAX_FILE_NAME_BYTES,
  recordFileName,
  recordFileNameFor,
  removeCharacters,
  sanitizeFileName,
  utf8Prefix
} from "../src/pipelines/naming/record-name.ts"
import type { RecordNameEncoding, RecordNameOptions } from "../src/pipelines/naming/record-name.ts"

const plain = (extension: RecordContainer, index?: number): RecordNameOptions => ({
  excludeCharacters: "",
  encoding: "none",
  index,
  extension
})

const bytes = (text: string): number => Buffer.byteLength(text, "utf8")

describe("record file names from the manual", () => {
  it("{streamName} of stream_ffmpeg gives stream_ffmpeg.mp4", () => {
    const name = recordFileNameFor("{streamName}", { streamName: "stream_ffmpeg" }, plain("mp4"))
    assert.strictEqual(name, "stream_ffmpeg.mp4")
  })

  it("rotated parts get _N after the rendered template", () => {
    const template = "{streamName}-{startTime}-{endTime}"
    const parts = [
      [1553577643961, 1553577663988, 1],
      [1553577663989, 1553577683997, 2],
      [1553577683997, 1553577701626, 3]
    ] as const
    assert.deepStrictEqual(
      parts.map(([startTime, endTime, index]) =>
        recordFileNameFor(template, { streamName: "test", startTime, endTime }, plain("mp4", index))
      ),
      [
        "test-1553577643961-1553577663988_1.mp4",
        "test-1553577663989-1553577683997_2.mp4",
        "test-1553577683997-1553577701626_3.mp4"
      ]
    )
  })

  it("the default template with a media session and a login", () => {
    const name = recordFileNameFor(
      "stream-{mediaSessionId}-{login}",
      { mediaSessionId: "57882100-ac49-11e9-afdd-6752f5be57a9", login: "jtdvnittjkrd8rsc3dnfbger2o" },
      plain("mp4")
    )
    assert.strictEqual(name, "stream-57882100-ac49-11e9-afdd-6752f5be57a9-jtdvnittjkrd8rsc3dnfbger2o.mp4")
  })

  it("exclude_record_name_characters=:.,/ removes those characters", () => {
    const options = { ...plain("webm"), excludeCharacters: ":.,/" }
    assert.strictEqual(recordFileName("rtsp://cam.local:554/live,1", options), "rtspcamlocal554live1.webm")
  })

  it("encode_record_name=true,HEX and true,BASE64 encode the UTF-8 bytes", () => {
    const hex = recordFileName("live/cam é", { ...plain("mkv"), encoding: "hex" })
    assert.strictEqual(hex, "6c6976652f63616d20c3a9.mkv")
    assert.strictEqual(recordFileName("a/b?c>", { ...plain("ts"), encoding: "base64" }), "YS9iP2M-.ts")
  })

  it("never escapes record_dir or hides the file", () => {
    assert.strictEqual(recordFileName("../../etc/passwd", plain("mp4")), "_._.._etc_passwd.mp4")
    assert.strictEqual(recordFileName("..", plain("mp4")), "_..mp4")
    assert.strictEqual(recordFileName(".hidden", plain("mp4")), "_hidden.mp4")
    assert.strictEqual(recordFileName("", plain("mp4", 2)), "__2.mp4")
    assert.strictEqual(recordFileName("a\\b\u0000c\nd\u007f", plain("mp4")), "a_b_c_d_.mp4")
    assert.strictEqual(recordFileName(":.,/", { ...plain("mp4"), excludeCharacters: ":.,/" }), "_.mp4")
  })

  it("cuts long names to 255 bytes before the index and extension, between characters", () => {
    const name = recordFileName("é".repeat(300), plain("webm", 12))
    assert.isTrue(name.endsWith("_12.webm"))
    // 123 "é" (246 bytes) fit in 255 - 8; the odd byte left cannot hold half an "é".
    assert.strictEqual(bytes(name), 254)
    assert.strictEqual(Buffer.from(name, "utf8").toString("utf8"), name)
    const emoji = recordFileName("🎥".repeat(100), plain("mp4"))
    assert.strictEqual(bytes(emoji), 4 * 62 + 4)
    assert.strictEqual(utf8Prefix("a🎥", 4), "a")
  })
})

const UNITS = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) },
  { weight: 2, arbitrary: fc.constantFrom("/", "\\", "\u0000", ".", "..", "../", "\n", "é", "🎥", "{endTime}") }
)
const anyText = fc.array(UNITS, { maxLength: 40 }).map((parts) => parts.join(""))
const options = fc.record({
  excludeCharacters: fc.oneof(fc.constant(""), fc.constant(":.,/"), fc.string({ unit: "binary", maxLength: 4 })),
  encoding: fc.constantFrom<RecordNameEncoding>("none", "hex", "base64"),
  index: fc.option(fc.nat({ max: 100_000 }), { nil: undefined }),
  extension: fc.constantFrom<RecordContainer>("mp4", "webm", "mkv", "ts")
})

describe("record file names: properties", () => {
  it("fit in 255 bytes, keep the suffix, and stay inside record_dir", () => {
    const recordDir = "/var/capstan/records"
    fc.assert(fc.property(anyText, options, (rendered, opts) => {
      const name = recordFileName(rendered, opts)
      const suffix = `${opts.index === undefined ? "" : `_${opts.index}`}.${opts.extension}`
      assert.isAtMost(bytes(name), MAX_FILE_NAME_BYTES)
      assert.isTrue(name.endsWith(suffix))
      assert.isAbove(name.length, suffix.length)
      assert.notInclude(name, "/")
      assert.notInclude(name, "\\")
      assert.notInclude(name, "\u0000")
      assert.notMatch(name, /[\u0000-\u001f\u007f]/)
      assert.notMatch(name, /^\./)
      assert.notInclude([".", ".."], name)
      // Well-formed UTF-16, so no character was cut in half.
      assert.strictEqual(Buffer.from(name, "utf8").toString("utf8"), name)
      assert.strictEqual(dirname(resolve(recordDir, name)), recordDir)
    }), { numRuns: 500 })
  })

  it("HEX and BASE64 names decode to a whole prefix of the kept name, all of it when it fits", () => {
    fc.assert(fc.property(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.constantFrom<"hex" | "base64">("hex", "base64"),
      fc.string({ unit: "binary", maxLength: 3 }),
      fc.option(fc.nat({ max: 999 }), { nil: undefined }),
      (rendered, encoding, excludeCharacters, index) => {
        const opts: RecordNameOptions = { excludeCharacters, encoding, index, extension: "mp4" }
        const kept = removeCharacters(rendered, excludeCharacters)
        const suffix = `${index === undefined ? "" : `_${index}`}.mp4`
        const base = recordFileName(rendered, opts).slice(0, -suffix.length)
        if (kept === "") return assert.strictEqual(base, "_")
        const decoded = Buffer.from(base, encoding === "hex" ? "hex" : "base64url").toString("utf8")
        // The cut fell between characters: re-encoding the decoded text gives the name back.
        assert.strictEqual(Buffer.from(decoded, "utf8").toString(encoding === "hex" ? "hex" : "base64url"), base)
        assert.isTrue(kept.startsWith(decoded))
        const encodedLength = encoding === "hex" ? 2 * bytes(kept) : Math.ceil((4 * bytes(kept)) / 3)
        if (encodedLength + suffix.length <= MAX_FILE_NAME_BYTES) assert.strictEqual(decoded, kept)
        else assert.isAbove(decoded.length, 0)
      }
    ), { numRuns: 500 })
  })

  it("without encoding, the name is the sanitized kept text, cut only when too long", () => {
    fc.assert(fc.property(anyText, fc.string({ unit: "binary", maxLength: 3 }), (rendered, excludeCharacters) => {
      const name = recordFileName(rendered, { excludeCharacters, encoding: "none", extension: "ts" })
      const whole = sanitizeFileName(removeCharacters(rendered, excludeCharacters))
      const base = name.slice(0, -".ts".length)
      assert.isTrue(whole.startsWith(base))
      if (bytes(whole) + 3 <= MAX_FILE_NAME_BYTES) assert.strictEqual(base, whole)
      else assert.isAbove(bytes(base), MAX_FILE_NAME_BYTES - 3 - 4)
    }), { numRuns: 500 })
  })

  it("is deterministic", () => {
    fc.assert(fc.property(anyText, options, (rendered, opts) => {
      assert.strictEqual(recordFileName(rendered, opts), recordFileName(rendered, opts))
    }))
  })
})
