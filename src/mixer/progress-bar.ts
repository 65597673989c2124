/**
 * How far a mix has come, shown on stderr: on a terminal one line redrawn in place (bar, percent, media time,
 * speed, time left); otherwise a plain line now and then, for logs. Fed with ffmpeg's `-progress` out_time.
 */
import { Clock, Effect } from "effect"

/** `h:mm:ss`, or `m:ss` under an hour. */
export const clockTime = (seconds: number): string => {
  const whole = Math.max(0, Math.floor(seconds))
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60]
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m)
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`
}

export interface ProgressState {
  /** Media seconds written so far. */
  readonly done: number
  readonly total: number
  /** Wall-clock seconds since the start. */
  readonly elapsed: number
}

/** The fraction done, within 0..1 (0 for an empty total). */
export const fractionOf = (state: ProgressState): number =>
  state.total > 0 ? Math.min(1, Math.max(0, state.done / state.total)) : 0

/** `label  42% [########------------]  1:23 / 3:20  1.8x  ETA 0:50`, at most `columns` characters. */
export const renderProgressLine = (label: string, state: ProgressState, columns: number): string => {
  const fraction = fractionOf(state)
  const speed = state.elapsed > 0 ? state.done / state.elapsed : 0
  const left = speed > 0 ? (state.total - state.done) / speed : undefined
  const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}%` +
    ` ${clockTime(state.done)} / ${clockTime(state.total)}` +
    (speed > 0 ? ` ${speed.toFixed(1)}x` : "") +
    (left === undefined ? "" : ` ETA ${clockTime(left)}`)
  const barWidth = Math.max(0, Math.min(40, columns - label.length - tail.length - 4))
  const filled = Math.round(fraction * barWidth)
  const bar = barWidth > 0 ? ` [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]` : ""
  return `${label}${bar}${tail}`.slice(0, Math.max(0, columns - 1))
}

export interface ProgressOutput {
  /** Whether stderr is a terminal (a redrawn line) or not (periodic plain lines). */
  readonly isTTY: boolean
  readonly columns: number
  readonly write: (text: string) => void
}

export const stderrOutput = (): ProgressOutput => ({
  isTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns ?? 80,
  write: (text) => void process.stderr.write(text)
})

export interface ProgressBar {
  readonly update: (doneSeconds: number) => Effect.Effect<void>
  /** Draws the last state and ends the line. */
  readonly finish: Effect.Effect<void>
}

/** A terminal redraws at most 5 times a second; a log gets a line every 10 s of wall-clock time. */
const TTY_INTERVAL_MS = 200
const LOG_INTERVAL_MS = 10_000

export const makeProgressBar = Effect.fn("ProgressBar.make")(function*(
  label: string,
  totalSeconds: number,
  output: ProgressOutput = stderrOutput()
) {
  const started = yield* Clock.currentTimeMillis
  let done = 0
  let shownAt = Number.NEGATIVE_INFINITY
  let finished = false
  const show = (now: number) => {
    const state = { done, total: totalSeconds, elapsed: (now - started) / 1000 }
    const line = renderProgressLine(label, state, output.columns)
    output.write(output.isTTY ? `\r${line}\x1b[K` : `${line}\n`)
    shownAt = now
  }
  const bar: ProgressBar = {
    update: (seconds) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          done = Math.max(done, seconds)
          if (!finished && now - shownAt >= (output.isTTY ? TTY_INTERVAL_MS : LOG_INTERVAL_MS)) show(now)
        })),
    finish: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (finished) return
        finished = true
        show(now)
        if (output.isTTY) output.write("\n")
      }))
  }
  return bar
})
