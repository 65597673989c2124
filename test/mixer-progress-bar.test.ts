/**
 * The mix's progress: ffmpeg's `-progress` lines read, one line redrawn in place on a terminal (at most 5 times a
 * second), plain lines every 10 s otherwise, and the callback's helpers (MP4 epoch, recorder URI from a file name).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { progressSeconds } from "../src/mixer/ffmpeg-job.ts"
import { MP4_EPOCH_OFFSET, mp4Time, recorderUriFromFileName } from "../src/mixer/mixer-callback.ts"
import { clockTime, makeProgressBar, type ProgressOutput, renderProgressLine } from "../src/mixer/progress-bar.ts"

const captured = (isTTY: boolean) => {
  const writes: Array<string> = []
  const output: ProgressOutput = { isTTY, columns: 100, write: (text) => void writes.push(text) }
  return { output, writes }
}

describe("ffmpeg -progress", () => {
  it.each([
    ["out_time_us=1966732", 1.966732],
    ["out_time_ms=2500000", 2.5],
    ["out_time=00:00:01.966732", undefined],
    ["progress=continue", undefined],
    ["out_time_us=N/A", undefined]
  ])("%s -> %s s", (line, seconds) => assert.strictEqual(progressSeconds(line), seconds))
})

describe("progress line", () => {
  it.each([[0, "0:00"], [59.9, "0:59"], [61, "1:01"], [3599, "59:59"], [3661, "1:01:01"]])(
    "%f s reads %s",
    (seconds, text) => assert.strictEqual(clockTime(seconds), text)
  )

  it("shows the bar, percent, times, speed and time left within the terminal's width", () => {
    const line = renderProgressLine("mixing", { done: 30, total: 120, elapsed: 15 }, 80)
    const match = /^mixing \[(#+)(-+)\]  25% 0:30 \/ 2:00 2\.0x ETA 0:45$/.exec(line)
    assert.isNotNull(match, line)
    assert.approximately(match![1]!.length / (match![1]!.length + match![2]!.length), 0.25, 0.02)
    assert.isBelow(line.length, 80)
    assert.isBelow(renderProgressLine("mixing", { done: 30, total: 120, elapsed: 15 }, 30).length, 30)
    assert.match(renderProgressLine("mixing", { done: 500, total: 120, elapsed: 1 }, 80), / 100% /)
  })
})

describe("progress bar", () => {
  it.effect("redraws one line on a terminal at most 5 times a second and ends it on finish", () =>
    Effect.gen(function*() {
      const { output, writes } = captured(true)
      const bar = yield* makeProgressBar("mixing", 100, output)
      yield* bar.update(1)
      yield* bar.update(2)
      yield* TestClock.adjust("100 millis")
      yield* bar.update(3)
      yield* TestClock.adjust("100 millis")
      yield* bar.update(4)
      assert.strictEqual(writes.length, 2)
      assert.isTrue(writes.every((w) => w.startsWith("\r") && w.endsWith("\x1b[K") && !w.includes("\n")))
      assert.include(writes[1], "0:04 / 1:40")
      yield* bar.finish
      assert.include(writes.at(-2), "0:04 / 1:40")
      assert.strictEqual(writes.at(-1), "\n")
    }))

  it.effect("writes plain lines every 10 s when stderr is not a terminal", () =>
    Effect.gen(function*() {
      const { output, writes } = captured(false)
      const bar = yield* makeProgressBar("mixing", 100, output)
      for (let s = 1; s <= 25; s++) {
        yield* bar.update(s * 2)
        yield* TestClock.adjust("1 second")
      }
      yield* bar.finish
      assert.strictEqual(writes.length, 4, JSON.stringify(writes))
      assert.isTrue(writes.every((w) => w.endsWith("\n") && !w.includes("\r")))
      assert.include(writes.at(-1), "50%")
    }))
})

describe("callback helpers", () => {
  it("counts seconds from 1904 as MP4 does", () => {
    assert.strictEqual(mp4Time(0), MP4_EPOCH_OFFSET)
    assert.strictEqual(mp4Time(Date.UTC(2022, 0, 14, 2, 51, 16)), 3_724_973_476)
  })

  it.each([
    ["/r/multi-recorder___test-record.mp4", "multi-recorder://test-record"],
    ["/r/multi-recorder___room-bace1f--1-1628821032180.mkv", "multi-recorder://room-bace1f--1-1628821032180"],
    ["/r/stream-32c7edd7-mockLogin.mp4", undefined],
    ["/r/multi-recorder___.mp4", undefined]
  ])("tells the recorder URI of %s", (file, uri) => assert.strictEqual(recorderUriFromFileName(file), uri))
})
