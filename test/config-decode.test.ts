import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Option, Result } from "effect"
import { decodeConfig, decodeProperties, defaultConfig } from "../src/config/decode.ts"
import { parseProperties } from "../src/config/properties.ts"
import { configKeys, configTable } from "../src/config/schema.ts"
import type { ConfigEntry } from "../src/config/schema.ts"

const decodeText = (text: string, source?: string) =>
  decodeProperties(parseProperties(text), { cwd: "/srv/capstan", source })

const errorOf = (text: string, source?: string): string => {
  const result = decodeText(text, source)
  if (Result.isSuccess(result)) assert.fail(`${JSON.stringify(text)} should not decode`)
  return result.failure.message
}

const MIB = 1024 * 1024

describe("decodeConfig: bad values give one exact line", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    [
      "record_rotation=sometimes",
      `config: record_rotation="sometimes" is invalid: expected "disabled", N (seconds) or NM (megabytes)`
    ],
    ["http_port=70000", `config: http_port="70000" is invalid: expected an integer port 1..65535`],
    ["rtmp_port=", `config: rtmp_port="" is invalid: expected an integer port 1..65535`],
    [
      "file_recorder_min_space=12x",
      `config: file_recorder_min_space="12x" is invalid: ` +
      "expected a size in bytes, or with a k, m or g suffix (e.g. 1g, 1024m)"
    ],
    [
      "record_formats=vp8-mp4",
      `config: record_formats="vp8-mp4" is invalid: mp4 cannot hold vp8 (in vp8-mp4); expected vp8-webm or vp8-mkv`
    ],
    [
      "encode_record_name=true,ROT13",
      `config: encode_record_name="true,ROT13" is invalid: expected false, true,HEX or true,BASE64`
    ],
    [
      "stream_record_policy_template={streamName}-{user}",
      `config: stream_record_policy_template="{streamName}-{user}" is invalid: unknown tag {user}; valid tags are ` +
      "{streamName}, {duration}, {startTime}, {endTime}, {startTimeMillis}, {endTimeMillis}, {sessionId}, " +
      "{mediaSessionId}, {login}, {audioCodec}, {videoCodec}"
    ],
    ["record_streams=yes", `config: record_streams="yes" is invalid: expected true or false`],
    ["record_fdk_aac_bitrate_mode=6", `config: record_fdk_aac_bitrate_mode="6" is invalid: expected an integer 0..5`],
    ["record_audio_codec_channels=3", `config: record_audio_codec_channels="3" is invalid: expected an integer 1..2`],
    ["record_stop_timeout=15s", `config: record_stop_timeout="15s" is invalid: expected a whole number of seconds`],
    ["record_dir=", `config: record_dir="" is invalid: expected a non-empty path`],
    [
      "record_response_content_disposition_header_value=download",
      `config: record_response_content_disposition_header_value="download" is invalid: expected inline or attachment`
    ],
    ["bind_address=999.0.0.1", `config: bind_address="999.0.0.1" is invalid: expected an IP address or a host name`],
    [
      `exclude_record_name_characters=ok\nrecord_dir=\u0000`,
      `config: record_dir="\\u0000" is invalid: expected a non-empty path`
    ],
    [
      `record_rotation=say "10"`,
      `config: record_rotation="say \\"10\\"" is invalid: expected "disabled", N (seconds) or NM (megabytes)`
    ],
    ["http_port=8081\nrecord_dir /tmp", `config: line 2 is not a key=value line: "record_dir /tmp"`]
  ]
  for (const [snippet, message] of cases) {
    it(snippet, () => {
      const actual = errorOf(snippet)
      assert.strictEqual(actual, message)
      assert.notInclude(actual, "\n")
    })
  }

  it("names the file and line when the entries come from a file", () => {
    assert.strictEqual(
      errorOf("# ports\nhttp_port=8080\nrtmp_port=99999\n", "/etc/capstan.properties"),
      `config: rtmp_port="99999" is invalid: expected an integer port 1..65535 (/etc/capstan.properties:3)`
    )
  })
})

describe("decodeConfig: defaults, overrides, warnings", () => {
  it("gives the manual's defaults for an empty input", () => {
    const config = defaultConfig("/srv/capstan")
    assert.strictEqual(config.recordStreams, true)
    assert.strictEqual(config.recordRtspStreams, false)
    assert.deepStrictEqual(config.recordFormats, { h264: "mp4", vp8: "webm" })
    assert.strictEqual(config.streamRecordPolicyTemplate, "stream-{mediaSessionId}-{login}")
    assert.strictEqual(config.encodeRecordName, "none")
    assert.deepStrictEqual(config.recordRotation, { _tag: "Disabled" })
    assert.strictEqual(config.recordRotationIndexEnabled, true)
    assert.strictEqual(config.fileRecorderMinSpace, 1024 * MIB)
    assert.strictEqual(Duration.toMinutes(config.fileRecorderErrorInterval), 60)
    assert.strictEqual(config.fileRecorderMaxErrorsPerInterval, 3)
    assert.strictEqual(Duration.toSeconds(config.recordStopTimeout), 15)
    assert.strictEqual(Duration.toSeconds(config.onRecordHookTimeout), 60)
    assert.isTrue(Option.isNone(config.onRecordHookScript))
    assert.strictEqual(config.httpPort, 8081)
    assert.strictEqual(config.rtmpPort, 1935)
    assert.strictEqual(config.bindAddress, "0.0.0.0")
    assert.strictEqual(config.recordResponseContentDispositionHeaderValue, "inline")
  })

  it("resolves relative directories against cwd and falls back to record_dir for empty ones", () => {
    const result = decodeText("record_dir=media/rec\nmp4_cutter_dir=/tmp/cuts\non_record_hook_script=bin/hook.sh\n")
    assert.isTrue(Result.isSuccess(result))
    if (Result.isFailure(result)) return
    const config = result.success.config
    assert.strictEqual(config.recordDir, "/srv/capstan/media/rec")
    assert.strictEqual(config.recordTmpDir, "/srv/capstan/media/rec")
    assert.strictEqual(config.multiRecordDir, "/srv/capstan/media/rec")
    assert.strictEqual(config.mp4CutterDir, "/tmp/cuts")
    assert.deepStrictEqual(config.onRecordHookScript, Option.some("/srv/capstan/bin/hook.sh"))
  })

  it("keeps defaults for keys left out and decodes the ones given", () => {
    const result = decodeText("record_rotation=10M\nencode_record_name=true,BASE64\nrecord_h264_to_ts=true\n")
    assert.isTrue(Result.isSuccess(result))
    if (Result.isFailure(result)) return
    const config = result.success.config
    assert.deepStrictEqual(config.recordRotation, { _tag: "Size", bytes: 10 * MIB })
    assert.strictEqual(config.encodeRecordName, "base64")
    assert.strictEqual(config.recordH264ToTs, true)
    assert.strictEqual(config.httpPort, 8081)
    assert.deepStrictEqual(result.success.warnings, [])
  })

  it("warns about unknown keys and duplicates with file and line, and ignores unknown keys", () => {
    const result = decodeText("recrod_dir=/x\nhttp_port=1\nhttp_port=2\n", "c.properties")
    assert.isTrue(Result.isSuccess(result))
    if (Result.isFailure(result)) return
    assert.deepStrictEqual(result.success.warnings, [
      `config: key "http_port" is set again (c.properties:3); this value wins over line 2`,
      `config: unknown key "recrod_dir" is ignored (c.properties:1)`
    ])
    assert.strictEqual(result.success.config.httpPort, 2)
    assert.strictEqual(result.success.config.recordDir, "/srv/capstan/records")
  })

  it("decodes plain entries the same way (layerFromProperties / layerFromRecord)", () => {
    const result = decodeConfig([{ key: "http_port", value: " 9000 " }], { cwd: "/" })
    assert.isTrue(Result.isSuccess(result) && result.success.config.httpPort === 9000)
  })
})

describe("the shipped config/capstan.properties", () => {
  const shipped = readFileSync(resolve(import.meta.dirname, "../config/capstan.properties"), "utf8")
  const parsed = parseProperties(shipped)

  it("lists every key of the table once, and nothing else", () => {
    assert.deepStrictEqual(parsed.malformed, [])
    assert.deepStrictEqual(parsed.duplicates, [])
    assert.deepStrictEqual(parsed.entries.map((entry) => entry.key).sort(), [...configKeys].sort())
  })

  it("writes every default exactly as the table does", () => {
    for (const entry of parsed.entries) {
      assert.strictEqual(entry.value, configTable[entry.key as keyof typeof configTable].default, entry.key)
    }
  })

  it("decodes to exactly the built-in defaults, without warnings", () => {
    const result = decodeProperties(parsed, { cwd: "/srv/capstan", source: "capstan.properties" })
    assert.isTrue(Result.isSuccess(result))
    if (Result.isFailure(result)) return
    assert.deepStrictEqual(result.success.config, defaultConfig("/srv/capstan"))
    assert.deepStrictEqual(result.success.warnings, [])
  })

  it("gives each key a comment above it", () => {
    const lines = shipped.split("\n")
    for (const entry of parsed.entries) {
      assert.match(lines[entry.line - 2]!, /^#/, `${entry.key} has no comment line above it`)
    }
  })

  it("table defaults are canonical: formatting the decoded default gives the same text", () => {
    for (const key of configKeys) {
      const { kind, default: text }: ConfigEntry<any> = configTable[key]
      const decoded = kind.parse(text)
      assert.isTrue(Result.isSuccess(decoded), key)
      if (Result.isSuccess(decoded)) assert.strictEqual(kind.format(decoded.success), text, key)
    }
  })
})
