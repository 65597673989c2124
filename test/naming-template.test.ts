import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  multiRecorderStreamName,
  pendingTags,
  renderTemplate,
  templateProblem,
  templateTagNames,
  templateTags
} from "../src/pipelines/naming/template.ts"
import type { TemplateTag, TemplateValues } from "../src/pipelines/naming/template.ts"

const codePoints = (text: string): number => [...text].length

/** The TemplateValues field that fills each tag, with a string value of it. */
const valueFor = (tag: TemplateTag, text: string): TemplateValues => {
  switch (tag) {
    case "duration":
      return { durationMillis: Number(text) }
    case "startTime":
    case "endTime":
    case "startTimeMillis":
    case "endTimeMillis":
      return { [tag]: Number(text) }
    default:
      return { [tag]: text }
  }
}

describe("renderTemplate", () => {
  it("fills every tag of the manual", () => {
    const values: TemplateValues = {
      streamName: "test",
      durationMillis: 20027,
      startTime: 1553577643961,
      endTime: 1553577663988,
      startTimeMillis: 1700000000000,
      endTimeMillis: 1700000020027,
      sessionId: "/192.168.1.5:51234/192.168.1.1:8443",
      mediaSessionId: "5a072377-73c1-4caf-abd3",
      login: "bob",
      audioCodec: "aac",
      videoCodec: "h264"
    }
    const template = templateTagNames.map((tag) => `{${tag}}`).join("|")
    assert.strictEqual(
      renderTemplate(template, values),
      [
        "test",
        "20027",
        "1553577643961",
        "1553577663988",
        "1700000000000",
        "1700000020027",
        Buffer.from("/192.168.1.5:51234/192.168.1.1:8443").toString("base64url"),
        "5a072377-73c1-4caf-abd3",
        "bob",
        "aac",
        "h264"
      ].join("|")
    )
  })

  it("leaves tags without a value literal, as /recorder/find_all shows for a file still open", () => {
    const template = "{streamName}-{startTime}-{endTime}"
    const open = { streamName: "003f", startTime: 1563776713987 }
    assert.strictEqual(renderTemplate(template, open), "003f-1563776713987-{endTime}")
    assert.deepStrictEqual(pendingTags(template, open), ["endTime"])
    assert.deepStrictEqual(pendingTags(template, { ...open, endTime: 1563776733987 }), [])
  })

  it("leaves text that is not a known tag alone", () => {
    assert.strictEqual(renderTemplate("{x}{streamName}{ streamName}{}", { streamName: "s" }), "{x}s{ streamName}{}")
  })

  it("writes -1 for the multi-recorder's stream times, and its URI as a file-safe stream name", () => {
    const template = "{streamName}-{startTime}-{startTimeMillis}-{endTime}-{endTimeMillis}"
    const rendered = renderTemplate(template, {
      streamName: multiRecorderStreamName("multi-recorder://test-record"),
      startTime: -1,
      endTime: -1,
      startTimeMillis: 1628821032180,
      endTimeMillis: 1628821151750
    })
    assert.strictEqual(rendered, "multi-recorder___test-record--1-1628821032180--1-1628821151750")
  })

  it("cuts each value to its tag's maximum size in code points, never splitting a character", () => {
    fc.assert(fc.property(
      fc.constantFrom<TemplateTag>("streamName", "sessionId", "mediaSessionId", "login", "audioCodec", "videoCodec"),
      fc.string({ unit: "binary", maxLength: 80 }),
      (tag, text) => {
        const rendered = renderTemplate(`<{${tag}}>`, valueFor(tag, text))
        const inner = rendered.slice(1, -1)
        const expected = tag === "sessionId" ? Buffer.from(text, "utf8").toString("base64url") : text
        assert.isAtMost(codePoints(inner), templateTags[tag])
        assert.isTrue(expected.startsWith(inner))
        assert.strictEqual(inner, [...expected].slice(0, templateTags[tag]).join(""))
      }
    ))
  })

  it("cuts times to 20 characters and keeps stream names whole", () => {
    assert.strictEqual(renderTemplate("{startTime}", { startTime: 1e25 }), "10000000000000000905")
    const long = "x".repeat(1000)
    assert.strictEqual(renderTemplate("{streamName}", { streamName: long }), long)
  })

  it("is deterministic and only depends on the tags the template uses", () => {
    fc.assert(fc.property(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      (prefix, streamName, login) => {
        const template = `${prefix.replace(/[{}]/g, "")}{streamName}`
        const first = renderTemplate(template, { streamName, login })
        assert.strictEqual(renderTemplate(template, { streamName, login }), first)
        assert.strictEqual(renderTemplate(template, { streamName }), first)
      }
    ))
  })
})

describe("templateProblem", () => {
  it("accepts the manual's templates and refuses unknown tags", () => {
    const manual = ["stream-{mediaSessionId}-{login}", "{streamName}", "{streamName}-{startTime}-{endTime}-{duration}"]
    for (const template of manual) {
      assert.isUndefined(templateProblem(template))
    }
    assert.match(templateProblem("{streamname}") ?? "", /^unknown tag \{streamname\}; valid tags are \{streamName\}/)
  })
})
