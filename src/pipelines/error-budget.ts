/**
 * The error budget of a recording (manual: "Recording stopping on errors"): how many write errors a recording
 * survives within a sliding window before it stops, and how it resumes after one it survives.
 */
import { Clock, Duration, Effect } from "effect"
import type { Frame } from "../media/frame.ts"

/**
 * file_recorder_error_interval and file_recorder_max_errors_per_interval, decoded. The manual says the recording
 * "will be stopped if 3 errors occur during 60 minutes", so the error that makes the count in the window reach
 * `maxErrors` is the one that stops it: with the defaults, the 3rd error, not the 4th.
 */
export interface ErrorBudgetPolicy {
  readonly intervalMillis: number
  readonly maxErrors: number
}

export const makeErrorBudgetPolicy = (options: {
  readonly interval: Duration.Input
  readonly maxErrors: number
}): ErrorBudgetPolicy => ({
  intervalMillis: Duration.toMillis(options.interval),
  maxErrors: Math.max(1, Math.floor(options.maxErrors))
})

/** The manual's defaults: 3 errors during 60 minutes. */
export const defaultErrorBudgetPolicy: ErrorBudgetPolicy = makeErrorBudgetPolicy({
  interval: Duration.minutes(60),
  maxErrors: 3
})

/** Why a recording stopped when its budget ran out, as the session reports it. */
export const errorBudgetReason = (policy: ErrorBudgetPolicy): string =>
  `${policy.maxErrors} recording errors within ${Math.round(policy.intervalMillis / 60_000)} minutes`

/**
 * The errors that still count, oldest first. An error at time `e` counts at time `now` while `now - e < interval`:
 * errors exactly one interval apart never share a window. At most `maxErrors` times are kept, as older ones
 * cannot change a decision.
 */
export interface ErrorBudget {
  readonly policy: ErrorBudgetPolicy
  readonly errors: ReadonlyArray<number>
}

export const emptyErrorBudget = (policy: ErrorBudgetPolicy): ErrorBudget => ({ policy, errors: [] })

/**
 * Counts an error at `nowMillis` (which must not go back in time). `exceeded` is true when this error makes the
 * errors of the last interval reach `maxErrors`: the recording must stop.
 */
export const record = (
  budget: ErrorBudget,
  nowMillis: number
): { readonly budget: ErrorBudget; readonly exceeded: boolean } => {
  const { policy } = budget
  const live = budget.errors.filter((at) => nowMillis - at < policy.intervalMillis)
  live.push(nowMillis)
  const errors = live.length > policy.maxErrors ? live.slice(live.length - policy.maxErrors) : live
  return { budget: { policy, errors }, exceeded: errors.length >= policy.maxErrors }
}

/** `record` at the current time of the Clock, so tests drive the window with TestClock. */
export const recordNow = (
  budget: ErrorBudget
): Effect.Effect<{ readonly budget: ErrorBudget; readonly exceeded: boolean }> =>
  Effect.map(Clock.currentTimeMillis, (now) => record(budget, now))

/**
 * The frame-dropping rule after an error the budget survives: "the frame which raise an exception and subsequent
 * frames will not be recorded until keyframe is received and parsed successfully". A file resumed on anything but
 * a video keyframe would hold undecodable video; audio is dropped with it so both tracks resume together. An
 * audio-only stream has no keyframes to wait for: every audio frame is a clean restart.
 *
 * A small mutable step, like the keyframe gate, because it runs once per frame on the hot path.
 */
export class ErrorRecovery {
  private readonly hasVideo: boolean
  private dropping = false

  constructor(options: { readonly hasVideo: boolean }) {
    this.hasVideo = options.hasVideo
  }

  get isDropping(): boolean {
    return this.dropping
  }

  /** A frame failed to be written: drop frames until the next clean restart point. */
  onError(): void {
    this.dropping = true
  }

  /**
   * Whether to write this frame. The keyframe that ends the dropping is admitted; if writing it fails too, the
   * caller reports that error with `onError` and the dropping starts over.
   */
  admit(frame: Frame): boolean {
    if (!this.dropping) return true
    const restarts = this.hasVideo ? frame.kind === "video" && frame.keyframe : frame.kind === "audio"
    if (restarts) this.dropping = false
    return restarts
  }
}
