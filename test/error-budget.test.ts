import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { Frame } from "../src/media/frame.ts"
import type { ErrorBudget, ErrorBudgetPolicy } from "../src/pipelines/error-budget.ts"
import {
  defaultErrorBudgetPolicy,
  emptyErrorBudget,
  ErrorRecovery,
  makeErrorBudgetPolicy,
  record,
  recordNow
} from "../src/pipelines/error-budget.ts"

const MINUTE = 60_000

/** The `exceeded` flag of every error of a sequence, fed one by one into a fresh budget. */
const replay = (policy: ErrorBudgetPolicy, times: ReadonlyArray<number>): Array<boolean> => {
  let budget: ErrorBudget = emptyErrorBudget(policy)
  return times.map((now) => {
    const step = record(budget, now)
    budget = step.budget
    return step.exceeded
  })
}

/** Brute force: whether some window [start, start + interval) holds at least `maxErrors` of the times. */
const someWindowIsFull = (policy: ErrorBudgetPolicy, times: ReadonlyArray<number>): boolean =>
  times.some((start) => times.filter((t) => t >= start && t < start + policy.intervalMillis).length >= policy.maxErrors)

const policyArb = fc.record({
  interval: fc.integer({ min: 1, max: 120 }).map((minutes) => Duration.minutes(minutes)),
  maxErrors: fc.integer({ min: 1, max: 6 })
}).map(makeErrorBudgetPolicy)

/**
 * Error times that only move forward (equal times allowed: two tracks can fail on one tick). Gaps of whole minutes
 * come often, so errors land exactly one interval apart.
 */
const gapArb = fc.oneof(
  fc.integer({ min: 0, max: 90 * MINUTE }),
  fc.integer({ min: 0, max: 90 }).map((minutes) => minutes * MINUTE)
)
const timesArb = fc.array(gapArb, { maxLength: 30 }).map((gaps) => {
  let now = 1_700_000_000_000
  return gaps.map((gap) => (now += gap))
})

describe("makeErrorBudgetPolicy", () => {
  it("defaults to the manual's 3 errors during 60 minutes", () => {
    assert.deepStrictEqual(defaultErrorBudgetPolicy, { intervalMillis: 60 * MINUTE, maxErrors: 3 })
  })
})

describe("record", () => {
  it("stops at the 3rd error within 60 minutes, as the manual's 'stopped if 3 errors occur'", () => {
    assert.deepStrictEqual(replay(defaultErrorBudgetPolicy, [0, 10 * MINUTE, 59 * MINUTE]), [false, false, true])
  })

  it.each([
    { case: "exactly one interval after the first error", times: [0, 30 * MINUTE, 60 * MINUTE], last: false },
    { case: "one millisecond inside the interval", times: [0, 30 * MINUTE, 60 * MINUTE - 1], last: true },
    { case: "three errors on the same tick", times: [5, 5, 5], last: true },
    { case: "errors an hour apart, forever", times: [0, 60, 120, 180, 240].map((m) => m * MINUTE), last: false }
  ])("window edge: $case", ({ times, last }) => {
    assert.strictEqual(replay(defaultErrorBudgetPolicy, times).at(-1), last)
  })

  it("exceeds at an error exactly when the interval ending at it holds maxErrors errors", () => {
    fc.assert(fc.property(policyArb, timesArb, (policy, times) => {
      const flags = replay(policy, times)
      times.forEach((now, i) => {
        const inWindow = times.slice(0, i + 1).filter((t) => now - t < policy.intervalMillis).length
        assert.strictEqual(flags[i], inWindow >= policy.maxErrors, `error ${i} at ${now}`)
      })
    }))
  })

  it("exceeds at some point exactly when some window of one interval holds maxErrors errors", () => {
    fc.assert(fc.property(policyArb, timesArb, (policy, times) => {
      assert.strictEqual(replay(policy, times).some(Boolean), someWindowIsFull(policy, times))
    }))
  })

  it("keeps no more error times than it needs, and none older than the interval", () => {
    fc.assert(fc.property(policyArb, timesArb, (policy, times) => {
      let budget = emptyErrorBudget(policy)
      for (const now of times) {
        budget = record(budget, now).budget
        assert.isAtMost(budget.errors.length, policy.maxErrors)
        assert.isTrue(budget.errors.every((t) => now - t < policy.intervalMillis))
      }
    }))
  })

  it("leaves the budget it was given unchanged", () => {
    fc.assert(fc.property(policyArb, timesArb, fc.integer({ min: 0, max: 90 * MINUTE }), (policy, times, gap) => {
      let budget = emptyErrorBudget(policy)
      for (const now of times) budget = record(budget, now).budget
      const before = [...budget.errors]
      record(budget, (times.at(-1) ?? 0) + gap)
      assert.deepStrictEqual(budget.errors, before)
    }))
  })
})

describe("recordNow", () => {
  it.effect("reads the Clock: errors 61 minutes apart never exceed the default budget", () =>
    Effect.gen(function*() {
      let budget = emptyErrorBudget(defaultErrorBudgetPolicy)
      for (let i = 0; i < 10; i++) {
        const step = yield* recordNow(budget)
        assert.isFalse(step.exceeded, `error ${i + 1}`)
        budget = step.budget
        yield* TestClock.adjust(Duration.minutes(61))
      }
    }))

  it.effect("reads the Clock: errors 29 minutes apart exceed at the 3rd", () =>
    Effect.gen(function*() {
      let budget = emptyErrorBudget(defaultErrorBudgetPolicy)
      const flags: Array<boolean> = []
      for (let i = 0; i < 3; i++) {
        const step = yield* recordNow(budget)
        flags.push(step.exceeded)
        budget = step.budget
        yield* TestClock.adjust(Duration.minutes(29))
      }
      assert.deepStrictEqual(flags, [false, false, true])
    }))
})

const frame = (kind: Frame["kind"], keyframe: boolean): Frame => ({
  kind,
  dts: 0,
  pts: 0,
  keyframe,
  data: new Uint8Array(1)
})

const frameArb = fc.record({ kind: fc.constantFrom("video" as const, "audio" as const), keyframe: fc.boolean() })
  .map(({ kind, keyframe }) => frame(kind, keyframe))

describe("ErrorRecovery", () => {
  it("admits everything until an error", () => {
    fc.assert(fc.property(fc.boolean(), fc.array(frameArb), (hasVideo, frames) => {
      const recovery = new ErrorRecovery({ hasVideo })
      assert.isTrue(frames.every((f) => recovery.admit(f)))
    }))
  })

  it("after an error, drops video and audio until a video keyframe, which it admits", () => {
    fc.assert(fc.property(fc.array(frameArb), (frames) => {
      const recovery = new ErrorRecovery({ hasVideo: true })
      recovery.onError()
      const resumeAt = frames.findIndex((f) => f.kind === "video" && f.keyframe)
      frames.forEach((f, i) => {
        assert.strictEqual(recovery.admit(f), resumeAt >= 0 && i >= resumeAt, `frame ${i}`)
      })
    }))
  })

  it("an error on the resuming keyframe starts the dropping over", () => {
    const recovery = new ErrorRecovery({ hasVideo: true })
    recovery.onError()
    assert.isTrue(recovery.admit(frame("video", true)))
    recovery.onError()
    assert.isFalse(recovery.admit(frame("video", false)))
    assert.isFalse(recovery.admit(frame("audio", false)))
    assert.isTrue(recovery.admit(frame("video", true)))
    assert.isFalse(recovery.isDropping)
  })

  it("an audio-only stream resumes at the next audio frame", () => {
    const recovery = new ErrorRecovery({ hasVideo: false })
    recovery.onError()
    assert.isTrue(recovery.isDropping)
    assert.isTrue(recovery.admit(frame("audio", false)))
    assert.isFalse(recovery.isDropping)
  })
})
