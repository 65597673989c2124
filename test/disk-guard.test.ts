import { assert, describe, it } from "@effect/vitest"
import * as os from "node:os"
import * as path from "node:path"
import { Deferred, Duration, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import {
  availableSpace,
  checkDiskSpace,
  DISK_CHECK_PERIOD,
  DiskSpace,
  hasEnoughSpace,
  NotEnoughDiskSpace,
  watchDiskSpace
} from "../src/pipelines/disk-guard.ts"

const GB = 1024 ** 3
const bytesArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })

describe("hasEnoughSpace", () => {
  it("holds exactly at and above the limit", () => {
    assert.isTrue(hasEnoughSpace(GB, GB))
    assert.isFalse(hasEnoughSpace(GB - 1, GB))
    fc.assert(fc.property(bytesArb, bytesArb, (available, min) => {
      assert.strictEqual(hasEnoughSpace(available, min), available >= min)
    }))
  })

  it("is monotonic: more space or a lower limit never turns enough into not enough", () => {
    fc.assert(fc.property(bytesArb, bytesArb, fc.nat(), fc.nat(), (available, min, more, less) => {
      if (hasEnoughSpace(available, min)) {
        assert.isTrue(hasEnoughSpace(available + more, Math.max(0, min - less)))
      }
    }))
  })
})

describe("availableSpace", () => {
  it.effect("reads a positive number of bytes for os.tmpdir() from statfs", () =>
    Effect.gen(function*() {
      const bytes = yield* availableSpace(os.tmpdir())
      assert.isTrue(Number.isSafeInteger(bytes) && bytes > 0, `${bytes}`)
    }))

  it.effect("fails with DiskSpaceUnknown for a directory that does not exist", () =>
    Effect.gen(function*() {
      const dir = path.join(os.tmpdir(), `capstan-no-such-dir-${process.pid}-${Math.random()}`)
      const error = yield* Effect.flip(availableSpace(dir))
      assert.strictEqual(error._tag, "DiskSpaceUnknown")
      assert.strictEqual(error.dir, dir)
      assert.include(error.reason, "ENOENT")
    }))
})

describe("checkDiskSpace", () => {
  it.effect("fails with the manual's message and the numbers when space is below the limit", () =>
    Effect.gen(function*() {
      const ref = yield* Ref.make(GB - 1)
      const error = yield* Effect.flip(checkDiskSpace("/records", GB).pipe(Effect.provide(DiskSpace.layerTest(ref))))
      assert.instanceOf(error, NotEnoughDiskSpace)
      assert.strictEqual(error.message, "Not enough available disk space")
      assert.deepStrictEqual({ dir: error.dir, available: error.available, required: error.required }, {
        dir: "/records",
        available: GB - 1,
        required: GB
      })
    }))

  it("succeeds with the available bytes exactly when there is enough space", () => {
    fc.assert(fc.property(bytesArb, bytesArb, (available, min) => {
      const exit = Effect.runSyncExit(
        Effect.flatMap(Ref.make(available), (ref) =>
          checkDiskSpace("/records", min).pipe(Effect.provide(DiskSpace.layerTest(ref))))
      )
      if (available >= min) assert.deepStrictEqual(exit, Exit.succeed(available))
      else assert.isTrue(Exit.isFailure(exit))
    }))
  })

  it.effect("passes with the real statfs for a limit of 0 and fails for an impossible limit", () =>
    Effect.gen(function*() {
      const available = yield* checkDiskSpace(os.tmpdir(), 0)
      assert.isTrue(available > 0)
      const error = yield* Effect.flip(checkDiskSpace(os.tmpdir(), Number.MAX_SAFE_INTEGER))
      assert.strictEqual(error._tag, "NotEnoughDiskSpace")
    }).pipe(Effect.provide(DiskSpace.layer)))
})

describe("watchDiskSpace", () => {
  it.effect("calls onLow once, within one period of the space running low, then ends", () =>
    Effect.gen(function*() {
      const ref = yield* Ref.make(10 * GB)
      const lows = yield* Ref.make<Array<NotEnoughDiskSpace>>([])
      const fiber = yield* watchDiskSpace("/records", GB, (error) => Ref.update(lows, (all) => [...all, error])).pipe(
        Effect.provide(DiskSpace.layerTest(ref)),
        Effect.forkChild
      )
      // Ten minutes of plenty: never low, and the watch keeps running.
      for (let i = 0; i < 120; i++) yield* TestClock.adjust(DISK_CHECK_PERIOD)
      assert.deepStrictEqual(yield* Ref.get(lows), [])
      assert.isUndefined(fiber.pollUnsafe())

      yield* Ref.set(ref, GB - 1)
      yield* TestClock.adjust(DISK_CHECK_PERIOD)
      const after = yield* Ref.get(lows)
      assert.strictEqual(after.length, 1)
      assert.strictEqual(after[0]!.available, GB - 1)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))

      yield* TestClock.adjust(Duration.times(DISK_CHECK_PERIOD, 10))
      assert.strictEqual((yield* Ref.get(lows)).length, 1)
    }))

  it.effect("finds a disk that is already low at once, before the first period", () =>
    Effect.gen(function*() {
      const ref = yield* Ref.make(0)
      const low = yield* Deferred.make<NotEnoughDiskSpace>()
      yield* watchDiskSpace("/records", 1, (error) => Deferred.succeed(low, error)).pipe(
        Effect.provide(DiskSpace.layerTest(ref))
      )
      assert.strictEqual((yield* Deferred.await(low)).required, 1)
    }))

  it.effect("goes on watching when statfs fails", () =>
    Effect.gen(function*() {
      const dir = path.join(os.tmpdir(), `capstan-no-such-dir-${process.pid}-${Math.random()}`)
      const fiber = yield* watchDiskSpace(dir, 0, () => Effect.void).pipe(
        Effect.provide(DiskSpace.layer),
        Effect.forkChild
      )
      for (let i = 0; i < 3; i++) yield* TestClock.adjust(DISK_CHECK_PERIOD)
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))
})
