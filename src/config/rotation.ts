/**
 * The record rotation policy: `disabled`, `N` (a new part every N seconds) or `NM` (a new part every N megabytes).
 * Same syntax in `record_rotation` and in the REST `config.rotation` (manual: "Record files rotation").
 */
import { Result, Schema } from "effect"
import { invalid, makeValueKind, parseNatural } from "./value-kind.ts"
import type { ValueKind } from "./value-kind.ts"

export const Rotation = Schema.Union([
  Schema.TaggedStruct("Disabled", {}),
  Schema.TaggedStruct("Duration", { seconds: Schema.Int }),
  Schema.TaggedStruct("Size", { bytes: Schema.Int })
])
export type Rotation = typeof Rotation.Type

/** A megabyte in `record_rotation=10M` is a mebibyte, as in the Java server the manual describes. */
export const ROTATION_MEGABYTE = 1024 * 1024

export const rotationDisabled: Rotation = { _tag: "Disabled" }

export const RotationKind: ValueKind<Rotation> = makeValueKind({
  expected: `"disabled", N (seconds) or NM (megabytes)`,
  type: Rotation,
  parse: (text) => {
    if (text.toLowerCase() === "disabled") return rotationDisabled
    // Nine digits: 31 years or 953 TiB, far past any use, and the bytes stay a safe integer.
    const match = /^(\d{1,9})(m?)$/i.exec(text)
    const count = match === null ? undefined : parseNatural(match[1]!)
    if (count === undefined || count === 0) return invalid()
    return match![2] === "" ? { _tag: "Duration", seconds: count } : { _tag: "Size", bytes: count * ROTATION_MEGABYTE }
  },
  format: (rotation) => {
    switch (rotation._tag) {
      case "Disabled":
        return "disabled"
      case "Duration":
        return String(rotation.seconds)
      case "Size":
        return `${Math.ceil(rotation.bytes / ROTATION_MEGABYTE)}M`
    }
  }
})

/** Parses rotation text; fails with `expected "disabled", N (seconds) or NM (megabytes)`. */
export const parseRotation = (text: string): Result.Result<Rotation, string> => RotationKind.parse(text.trim())
