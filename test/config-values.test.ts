import { assert, describe, it } from "@effect/vitest"
import { Duration, Option, Result, Schema } from "effect"
import fc from "fast-check"
import { RecordFormatsKind, recordContainerFor } from "../src/config/record-formats.ts"
import { parseRotation, RotationKind } from "../src/config/rotation.ts"
import type { ValueKind } from "../src/config/value-kind.ts"
import {
  Bool,
  ByteSize,
  ContentDisposition,
  EncodeRecordName,
  Host,
  intRange,
  Minutes,
  NonNegativeInt,
  OptionalPath,
  Path,
  Port,
  Seconds,
  Template
} from "../src/config/values.ts"

const ok = <A>(kind: ValueKind<A>, text: string): A => {
  const result = kind.parse(text)
  if (Result.isFailure(result)) assert.fail(`${JSON.stringify(text)} should parse, got: ${result.failure}`)
  return result.success
}

const reason = <A>(kind: ValueKind<A>, text: string): string => {
  const result = kind.parse(text)
  if (Result.isSuccess(result)) assert.fail(`${JSON.stringify(text)} should not parse`)
  return result.failure
}

const MIB = 1024 * 1024

describe("config value kinds", () => {
  it("Bool accepts true and false in any case, nothing else", () => {
    assert.strictEqual(ok(Bool, "true"), true)
    assert.strictEqual(ok(Bool, "FALSE"), false)
    for (const bad of ["yes", "1", "", "tru"]) assert.strictEqual(reason(Bool, bad), "expected true or false")
  })

  it("Port is an integer 1..65535", () => {
    assert.strictEqual(ok(Port, "1"), 1)
    assert.strictEqual(ok(Port, "65535"), 65535)
    for (const bad of ["0", "65536", "-1", "80.5", "1e3", " ", "0x50"]) {
      assert.strictEqual(reason(Port, bad), "expected an integer port 1..65535")
    }
  })

  it("integers refuse signs, fractions and exponents", () => {
    assert.strictEqual(ok(NonNegativeInt, "0"), 0)
    for (const bad of ["-0", "+1", "1.0", "1e2", ""]) {
      assert.strictEqual(reason(NonNegativeInt, bad), "expected a non-negative integer")
    }
    assert.strictEqual(reason(intRange(0, 5), "6"), "expected an integer 0..5")
  })

  it("Seconds and Minutes decode to Durations", () => {
    assert.strictEqual(Duration.toMillis(ok(Seconds, "15")), 15_000)
    assert.strictEqual(Duration.toMillis(ok(Minutes, "60")), 3_600_000)
    assert.strictEqual(reason(Seconds, "1.5"), "expected a whole number of seconds")
    assert.strictEqual(reason(Minutes, "1h"), "expected a whole number of minutes")
  })

  it("ByteSize takes plain bytes or binary k/m/g suffixes in either case", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["1g", 1024 * MIB],
      ["1G", 1024 * MIB],
      ["1024m", 1024 * MIB],
      ["10M", 10 * MIB],
      ["64k", 65536],
      ["131072", 131072],
      ["0", 0]
    ]
    for (const [text, bytes] of cases) assert.strictEqual(ok(ByteSize, text), bytes, text)
    for (const bad of ["12x", "1gb", "1.5g", "g", "", "-1m", "1 g"]) {
      assert.strictEqual(reason(ByteSize, bad), "expected a size in bytes, or with a k, m or g suffix (e.g. 1g, 1024m)")
    }
  })

  it("Rotation is disabled, N seconds or NM megabytes", () => {
    assert.deepStrictEqual(ok(RotationKind, "disabled"), { _tag: "Disabled" })
    assert.deepStrictEqual(ok(RotationKind, "20"), { _tag: "Duration", seconds: 20 })
    assert.deepStrictEqual(ok(RotationKind, "10M"), { _tag: "Size", bytes: 10 * MIB })
    assert.deepStrictEqual(ok(RotationKind, "10m"), { _tag: "Size", bytes: 10 * MIB })
    for (const bad of ["sometimes", "0", "0M", "10G", "-5", "1.5", "", "M", "10 M"]) {
      assert.strictEqual(reason(RotationKind, bad), `expected "disabled", N (seconds) or NM (megabytes)`)
    }
  })

  it("parseRotation is the same parser for the REST config.rotation, trimming its input", () => {
    assert.deepStrictEqual(parseRotation(" 20M "), Result.succeed({ _tag: "Size", bytes: 20 * MIB }))
    assert.isTrue(Result.isFailure(parseRotation("often")))
  })

  it("EncodeRecordName is false, true,HEX or true,BASE64", () => {
    assert.strictEqual(ok(EncodeRecordName, "false"), "none")
    assert.strictEqual(ok(EncodeRecordName, "true,HEX"), "hex")
    assert.strictEqual(ok(EncodeRecordName, "true, base64"), "base64")
    for (const bad of ["true", "true,ROT13", "HEX", ""]) {
      assert.strictEqual(reason(EncodeRecordName, bad), "expected false, true,HEX or true,BASE64")
    }
  })

  it("RecordFormats maps each codec to a container it can hold, defaulting the codecs left out", () => {
    assert.deepStrictEqual(ok(RecordFormatsKind, "h264-mp4, vp8-webm"), { h264: "mp4", vp8: "webm" })
    assert.deepStrictEqual(ok(RecordFormatsKind, "h264-mkv, vp8-mkv"), { h264: "mkv", vp8: "mkv" })
    assert.deepStrictEqual(ok(RecordFormatsKind, "h264-ts"), { h264: "ts", vp8: "webm" })
    assert.deepStrictEqual(ok(RecordFormatsKind, "VP8-MKV"), { h264: "mp4", vp8: "mkv" })
    assert.strictEqual(
      reason(RecordFormatsKind, "vp8-mp4"),
      "mp4 cannot hold vp8 (in vp8-mp4); expected vp8-webm or vp8-mkv"
    )
    assert.strictEqual(
      reason(RecordFormatsKind, "h264-mp4, vp8-ts"),
      "ts cannot hold vp8 (in vp8-ts); expected vp8-webm or vp8-mkv"
    )
    assert.strictEqual(reason(RecordFormatsKind, "h264-mp4, h264-mkv"), "h264 is listed twice")
    for (const bad of ["h265-mp4", "h264-avi", "h264mp4", "", "h264-mp4,"]) {
      assert.strictEqual(
        reason(RecordFormatsKind, bad),
        `expected codec-container pairs such as "h264-mp4, vp8-webm" (codecs h264, vp8; containers mp4, webm, mkv, ts)`
      )
    }
  })

  it("recordContainerFor: record_h264_to_ts wins for H.264, audio-only is always MP4", () => {
    const formats = { h264: "mkv", vp8: "mkv" } as const
    assert.strictEqual(recordContainerFor(formats, false, "H264"), "mkv")
    assert.strictEqual(recordContainerFor(formats, true, "H264"), "ts")
    assert.strictEqual(recordContainerFor(formats, true, "VP8"), "mkv")
    assert.strictEqual(recordContainerFor(formats, true, undefined), "mp4")
  })

  it("paths, content disposition and hosts", () => {
    assert.strictEqual(ok(Path, "./records"), "./records")
    assert.strictEqual(reason(Path, ""), "expected a non-empty path")
    assert.deepStrictEqual(ok(OptionalPath, ""), Option.none())
    assert.deepStrictEqual(ok(OptionalPath, "/tmp"), Option.some("/tmp"))
    assert.strictEqual(ok(ContentDisposition, "Attachment"), "attachment")
    assert.strictEqual(reason(ContentDisposition, "download"), "expected inline or attachment")
    for (const host of ["0.0.0.0", "127.0.0.1", "::", "::1", "localhost", "rec-1.example.org"]) {
      assert.strictEqual(ok(Host, host), host)
    }
    for (const bad of ["", "999.1.1.1", "bad host", "-x.org", "a..b"]) {
      assert.strictEqual(reason(Host, bad), "expected an IP address or a host name")
    }
  })

  it("Template refuses empty text and unknown tags, naming the valid ones", () => {
    assert.strictEqual(ok(Template, "{streamName}-{startTime}-{endTime}"), "{streamName}-{startTime}-{endTime}")
    assert.strictEqual(ok(Template, "plain {not a tag}"), "plain {not a tag}")
    assert.strictEqual(reason(Template, ""), "expected a non-empty file name template")
    assert.strictEqual(
      reason(Template, "{streamName}-{start}"),
      "unknown tag {start}; valid tags are {streamName}, {duration}, {startTime}, {endTime}, {startTimeMillis}, " +
        "{endTimeMillis}, {sessionId}, {mediaSessionId}, {login}, {audioCodec}, {videoCodec}"
    )
  })

  it("the Schema of a kind fails with the kind's message and encodes back to canonical text", () => {
    const decoded = Schema.decodeUnknownResult(Port.schema)("70000")
    assert.isTrue(Result.isFailure(decoded))
    if (Result.isFailure(decoded)) assert.strictEqual(decoded.failure.message, "expected an integer port 1..65535")
    assert.strictEqual(Schema.encodeSync(ByteSize.schema)(1024 * MIB), "1g")
    assert.strictEqual(Schema.encodeSync(RotationKind.schema)({ _tag: "Size", bytes: 10 * MIB }), "10M")
  })

  it("format then parse gives the value back", () => {
    const roundTrip = <A>(kind: ValueKind<A>, arbitrary: fc.Arbitrary<A>) =>
      fc.assert(fc.property(arbitrary, (value) => {
        assert.deepStrictEqual(ok(kind, kind.format(value)), value)
      }))
    roundTrip(ByteSize, fc.oneof(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 4096 }).map((n) => n * MIB),
      fc.integer({ min: 0, max: 4096 }).map((n) => n * 1024 * MIB)
    ))
    roundTrip(RotationKind, fc.oneof(
      fc.constant({ _tag: "Disabled" } as const),
      fc.integer({ min: 1, max: 999_999_999 }).map((seconds) => ({ _tag: "Duration", seconds }) as const),
      fc.integer({ min: 1, max: 999_999_999 }).map((n) => ({ _tag: "Size", bytes: n * MIB }) as const)
    ))
    roundTrip(RecordFormatsKind, fc.record({
      h264: fc.constantFrom("mp4", "webm", "mkv", "ts"),
      vp8: fc.constantFrom("webm", "mkv")
    }))
    roundTrip(EncodeRecordName, fc.constantFrom("none", "hex", "base64"))
    roundTrip(Port, fc.integer({ min: 1, max: 65535 }))
  })
})
