/**
 * offline_mixer.json: the manual's spellings decode (booleans as "true" strings, sizes as "1G"), bad values fail
 * with one line naming the key, unknown keys warn, and the shipped config file holds the built-in defaults.
 */
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { DEFAULT_SETTINGS_FILE } from "../src/mixer/mixer-command.ts"
import { defaultMixerSettings, defaultThreadCount, parseMixerSettings } from "../src/mixer/mixer-settings.ts"

const decoded = (text: string) => {
  const result = parseMixerSettings(text)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

const failure = (text: string): string => {
  const result = parseMixerSettings(text)
  assert.isTrue(Result.isFailure(result), `${text} should not decode`)
  return Result.isFailure(result) ? result.failure.message : ""
}

describe("offline_mixer.json", () => {
  it("accepts the manual's string booleans and plain JSON booleans alike", () => {
    const { settings } = decoded(`{"hasVideo": "false", "hasAudio": true, "mixerDisplayStreamName": "false"}`)
    assert.strictEqual(settings.hasVideo, false)
    assert.strictEqual(settings.hasAudio, true)
    assert.strictEqual(settings.mixerDisplayStreamName, false)
  })

  it.each([
    ["\"1G\"", 1024 ** 3],
    ["\"512m\"", 512 * 1024 ** 2],
    ["\"100k\"", 100 * 1024],
    ["2048", 2048],
    ["\"0\"", 0]
  ])("reads minAvailableSpace %s as %i bytes", (value, bytes) => {
    assert.strictEqual(decoded(`{"minAvailableSpace": ${value}}`).settings.minAvailableSpace, bytes)
  })

  it("reads every key the manual names", () => {
    const { settings, warnings } = decoded(JSON.stringify({
      hasVideo: "true",
      hasAudio: "true",
      mixerDisplayStreamName: true,
      mixerTextDisplayRoom: false,
      labelReplaceRegex: "\\w+-\\w+-([^-]+)-\\w+",
      labelReplaceWith: "",
      mixerDecodeStreamName: true,
      multithreading: true,
      threadCount: 6,
      callbackUrl: "http://backend.url/multiRecorderCallback",
      minAvailableSpace: "1G"
    }))
    assert.deepStrictEqual(warnings, [])
    assert.strictEqual(settings.mixerTextDisplayRoom, false)
    assert.strictEqual(settings.labelReplaceRegex, "\\w+-\\w+-([^-]+)-\\w+")
    assert.strictEqual(settings.mixerDecodeStreamName, true)
    assert.strictEqual(settings.multithreading, true)
    assert.strictEqual(settings.threadCount, 6)
    assert.strictEqual(settings.callbackUrl, "http://backend.url/multiRecorderCallback")
  })

  it.each([
    [`{"hasVideo": "yes"}`, /hasVideo.*|true or false/],
    [`{"threadCount": 0}`, /threadCount/],
    [`{"threadCount": 2.5}`, /threadCount/],
    [`{"minAvailableSpace": "12x"}`, /minAvailableSpace/],
    [`{"labelReplaceRegex": "("}`, /labelReplaceRegex is not a regular expression/],
    [`{"callbackUrl": "ftp://x"}`, /callbackUrl "ftp:\/\/x" is not an http\(s\) URL/],
    [`{"outputWidth": 641}`, /must be even/],
    [`[1, 2]`, /offline_mixer.json/],
    [`{"hasVideo": `, /is not JSON/]
  ])("refuses %s with one line", (text, expected) => {
    const message = failure(text)
    assert.match(message, expected)
    assert.notInclude(message, "\n")
    assert.match(message, /^offline_mixer\.json/)
  })

  it("warns about unknown keys and keeps going", () => {
    const { settings, warnings } = decoded(`{"hasvideo": false}`)
    assert.strictEqual(settings.hasVideo, true)
    assert.deepStrictEqual(warnings, [`offline_mixer.json: unknown key "hasvideo" is ignored`])
  })

  it("defaults threadCount to half the CPUs, at least one", () => {
    assert.deepStrictEqual([1, 2, 3, 12].map((cpus) => defaultThreadCount(cpus)), [1, 1, 1, 6])
  })

  it("ships config/offline_mixer.json with the built-in defaults (the manual's three keys)", () => {
    const text = fs.readFileSync(DEFAULT_SETTINGS_FILE, "utf8")
    assert.deepStrictEqual(Object.keys(JSON.parse(text)), ["hasVideo", "hasAudio", "mixerDisplayStreamName"])
    assert.deepStrictEqual(decoded(text).settings, defaultMixerSettings)
  })
})
