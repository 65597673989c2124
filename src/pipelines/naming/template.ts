/**
 * Renders `stream_record_policy_template` (manual: "Forming the name of the stream record file"): each `{tag}`
 * becomes its value cut to the tag's maximum size. A tag whose value is not known yet stays literal, so the
 * name of a file still being written reads `003f-1563776713987-{endTime}.mp4`, as in /recorder/find_all.
 */

/** Each tag and its maximum size in characters (code points), from the manual's table. */
export const templateTags = {
  streamName: Infinity,
  duration: Infinity,
  startTime: 20,
  endTime: 20,
  startTimeMillis: 20,
  endTimeMillis: 20,
  sessionId: 60,
  mediaSessionId: 36,
  login: 32,
  audioCodec: 4,
  videoCodec: 4
} as const

export type TemplateTag = keyof typeof templateTags

export const templateTagNames: ReadonlyArray<TemplateTag> = Object.keys(templateTags) as Array<TemplateTag>

/**
 * What is known when a name is rendered. Times are integer milliseconds: `startTime`/`endTime` on the stream's
 * own timestamps (RTMP starts at 0), `...Millis` on the server clock (Unix epoch). `durationMillis` fills
 * `{duration}`, also in milliseconds. The multi-recorder passes -1 for `startTime`/`endTime`. `sessionId` is
 * the raw connection id; the template shows it base64url-encoded (no `/`, so it is safe in a file name).
 */
export interface TemplateValues {
  readonly streamName?: string | undefined
  readonly durationMillis?: number | undefined
  readonly startTime?: number | undefined
  readonly endTime?: number | undefined
  readonly startTimeMillis?: number | undefined
  readonly endTimeMillis?: number | undefined
  readonly sessionId?: string | undefined
  readonly mediaSessionId?: string | undefined
  readonly login?: string | undefined
  readonly audioCodec?: string | undefined
  readonly videoCodec?: string | undefined
}

const TAG = /\{([A-Za-z]+)\}/g

const isTag = (name: string): name is TemplateTag => Object.hasOwn(templateTags, name)

/** Why a template is not acceptable (an unknown `{tag}`), or `undefined` when it is. */
export const templateProblem = (template: string): string | undefined => {
  for (const match of template.matchAll(TAG)) {
    if (!isTag(match[1]!)) {
      return `unknown tag {${match[1]}}; valid tags are ${templateTagNames.map((tag) => `{${tag}}`).join(", ")}`
    }
  }
  return undefined
}

/** Integer digits, never exponent notation (String(1e21) is "1e+21"). */
const integer = (value: number | undefined): string | undefined =>
  value === undefined || !Number.isFinite(value) ? undefined : BigInt(Math.trunc(value)).toString()

const tagText = (tag: TemplateTag, values: TemplateValues): string | undefined => {
  switch (tag) {
    case "duration":
      return integer(values.durationMillis)
    case "startTime":
    case "endTime":
    case "startTimeMillis":
    case "endTimeMillis":
      return integer(values[tag])
    case "sessionId":
      return values.sessionId === undefined ? undefined : Buffer.from(values.sessionId, "utf8").toString("base64url")
    default:
      return values[tag]
  }
}

/** The first `max` code points of `text` (never splits a surrogate pair). */
export const truncateCodePoints = (text: string, max: number): string => {
  if (text.length <= max) return text
  let count = 0
  let end = 0
  for (const char of text) {
    if (count === max) break
    count++
    end += char.length
  }
  return text.slice(0, end)
}

/** Replaces every known tag that has a value; unknown tags and tags without a value stay as written. */
export const renderTemplate = (template: string, values: TemplateValues): string =>
  template.replace(TAG, (whole, name: string) => {
    if (!isTag(name)) return whole
    const text = tagText(name, values)
    return text === undefined ? whole : truncateCodePoints(text, templateTags[name])
  })

/** The tags that `template` uses and `values` cannot fill yet (so the rendered name is not final). */
export const pendingTags = (template: string, values: TemplateValues): ReadonlyArray<TemplateTag> =>
  [...template.matchAll(TAG)]
    .map((match) => match[1]!)
    .filter((name): name is TemplateTag => isTag(name) && tagText(name, values) === undefined)

/**
 * `{streamName}` of a multi-recorder: its URI with every character a file system may refuse replaced by `_`
 * (manual: `multi-recorder://test-record` gives `multi-recorder___test-record`).
 */
export const multiRecorderStreamName = (uri: string): string =>
  uri.replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, "_")
