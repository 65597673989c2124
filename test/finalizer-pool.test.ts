import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { FinalizerPool } from "../src/pipelines/finalizer-pool.ts"

/** Counts how many jobs run inside the pool at once, and the most it ever saw. */
const makeGauge = Effect.map(Ref.make({ active: 0, max: 0 }), (ref) => ({
  ref,
  /** Wraps a job so the gauge sees it while it holds a slot. */
  measure: <A, E, R>(job: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Ref.update(ref, ({ active, max }) => ({ active: active + 1, max: Math.max(max, active + 1) })),
      () => job,
      () => Ref.update(ref, (gauge) => ({ ...gauge, active: gauge.active - 1 }))
    )
}))

/**
 * Runs `jobs` jobs of one second each through a pool of `size` at once, stepping the TestClock a second at a time
 * until all are done. Returns the highest concurrency seen and the seconds it took.
 */
const runSecondJobs = (size: number, jobs: number) =>
  Effect.gen(function*() {
    const pool = yield* FinalizerPool
    const gauge = yield* makeGauge
    const all = yield* Effect.forEach(
      Array.from({ length: jobs }),
      () => pool.run(gauge.measure(Effect.sleep(Duration.seconds(1)))),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.forkChild)
    let seconds = 0
    while (all.pollUnsafe() === undefined && seconds <= jobs + 1) {
      yield* TestClock.adjust(Duration.seconds(1))
      seconds++
    }
    yield* Fiber.join(all)
    return { max: (yield* Ref.get(gauge.ref)).max, seconds }
  }).pipe(Effect.provide(Layer.merge(FinalizerPool.layer(size), TestClock.layer())))

describe("FinalizerPool", () => {
  it("never runs more than its size at once, reaches it given enough jobs, and so takes ceil(jobs / size) rounds", () =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 30 }), (size, jobs) =>
        Effect.runPromise(runSecondJobs(size, jobs)).then(({ max, seconds }) => {
          assert.strictEqual(max, Math.min(size, jobs), "most jobs at once")
          assert.strictEqual(seconds, Math.ceil(jobs / size), "rounds")
        })),
      { numRuns: 40 }
    ))

  it.effect("holds the jobs past its size until a slot is released", () =>
    Effect.gen(function*() {
      const pool = yield* FinalizerPool
      const gauge = yield* makeGauge
      const gate = yield* Deferred.make<void>()
      const started = yield* Ref.make(0)
      const fiber = yield* Effect.forEach(
        Array.from({ length: 5 }),
        () => pool.run(gauge.measure(Effect.andThen(Ref.update(started, (n) => n + 1), Deferred.await(gate)))),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.forkChild)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.strictEqual(yield* Ref.get(started), 2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(started), 5)
      assert.deepStrictEqual(yield* Ref.get(gauge.ref), { active: 0, max: 2 })
    }).pipe(Effect.provide(FinalizerPool.layer(2))))

  it.effect("gives the slot back when a job fails or is interrupted", () =>
    Effect.gen(function*() {
      const pool = yield* FinalizerPool
      const failed = yield* Effect.exit(pool.run(Effect.fail("disk on fire")))
      assert.deepStrictEqual(failed, Exit.fail("disk on fire"))
      const stuck = yield* pool.run(Effect.never).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(stuck)
      // With one slot, this would wait forever if either job had kept it.
      assert.strictEqual(yield* pool.run(Effect.succeed("next")), "next")
    }).pipe(Effect.provide(FinalizerPool.layer(1))))

  it.effect("treats a size below 1 as 1 instead of blocking every job", () =>
    Effect.gen(function*() {
      const pool = yield* FinalizerPool
      assert.strictEqual(yield* pool.run(Effect.succeed(1)), 1)
    }).pipe(Effect.provide(FinalizerPool.layer(0))))
})
