/**
 * One kind of config value (a port, a byte size, a rotation...): its own pure parser, its own formatter and its
 * own validation message, packaged as an Effect Schema from the property text to the typed value (MediaMTX style).
 */
import { Effect, Result, Schema, SchemaGetter, SchemaIssue } from "effect"

export interface ValueKind<A> {
  /** What a valid value looks like; the default message is `expected <expected>`. */
  readonly expected: string
  /** Parses trimmed property text; fails with the one-line explanation that follows `is invalid: `. */
  readonly parse: (text: string) => Result.Result<A, string>
  /** The canonical property text of a value; `parse(format(a))` gives back `a`. */
  readonly format: (value: A) => string
  /** The same parse and format as a Schema from the property text; failures carry the parse message. */
  readonly schema: Schema.Codec<A, string>
}

/** The decoded type of a value kind. */
export type KindType<K> = K extends ValueKind<infer A> ? A : never

/** A parse failure; without a reason the message is `expected <expected>`. */
export class Invalid {
  readonly reason: string | undefined
  constructor(reason?: string) {
    this.reason = reason
  }
}

export const invalid = (reason?: string): Invalid => new Invalid(reason)

export const makeValueKind = <A>(options: {
  readonly expected: string
  /** The Schema of the decoded value, checked after parsing. */
  readonly type: Schema.Codec<A>
  /** Returns the value, or `invalid()` (reported as `expected <expected>`), or `invalid(reason)`. */
  readonly parse: (text: string) => A | Invalid
  readonly format: (value: A) => string
}): ValueKind<A> => {
  const message = `expected ${options.expected}`
  const parse = (text: string): Result.Result<A, string> => {
    const parsed = options.parse(text)
    return parsed instanceof Invalid ? Result.fail(parsed.reason ?? message) : Result.succeed(parsed)
  }
  const schema = Schema.String.pipe(Schema.decodeTo(options.type, {
    decode: SchemaGetter.transformEffect((text: string) =>
      Result.match(parse(text), {
        onSuccess: (value) => Effect.succeed(value),
        onFailure: (reason) => Effect.fail(new SchemaIssue.InvalidValue({ message: reason }, text))
      })
    ),
    encode: SchemaGetter.transform(options.format)
  }))
  return { expected: options.expected, parse, format: options.format, schema }
}

/** Digits only, no sign, no exponent, within the safe integer range: `0`, `15`, `65535`. */
export const parseNatural = (text: string): number | undefined => {
  if (!/^\d{1,15}$/.test(text)) return undefined
  return Number(text)
}
