/**
 * The finalizer pool (manual: "Recording performance tuning under high load"): file_recorder_thread_pool_max_size
 * bounds how many disk-heavy jobs (finalizing, copying, fsync) run at once, so many streams ending together queue
 * up instead of competing for the disk.
 */
import { Context, Effect, Layer, Semaphore } from "effect"

/** The manual's default: 4 recording threads. */
export const DEFAULT_FINALIZER_POOL_SIZE = 4

export class FinalizerPool extends Context.Service<FinalizerPool, {
  /** Runs `effect` once a slot is free; the slot is released however it ends, interruption included. */
  readonly run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>()("capstan/pipelines/FinalizerPool") {
  /** A pool of `size` slots; a size below 1 would deadlock every job, so it counts as 1. */
  static readonly layer = (size: number = DEFAULT_FINALIZER_POOL_SIZE): Layer.Layer<FinalizerPool> =>
    Layer.effect(
      FinalizerPool,
      Effect.map(Semaphore.make(Math.max(1, Math.floor(size))), (semaphore) =>
        FinalizerPool.of({ run: (effect) => Semaphore.withPermit(semaphore)(effect) }))
    )
}
