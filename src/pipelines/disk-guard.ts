/**
 * The disk guard (manual: "Minimal available disk space checking"): a recording does not start, and a running one
 * stops, when the space available in its directory falls below file_recorder_min_space.
 */
import * as fs from "node:fs"
import { Context, Duration, Effect, Layer, Ref, Schedule, Schema } from "effect"

/** The manual's log line, word for word, so operators can grep for it. */
export const NOT_ENOUGH_DISK_SPACE = "Not enough available disk space"

export class NotEnoughDiskSpace extends Schema.TaggedError<NotEnoughDiskSpace>()("NotEnoughDiskSpace", {
  dir: Schema.String,
  available: Schema.Number,
  required: Schema.Number
}, { httpApiStatus: 507 }) {
  override get message(): string {
    return NOT_ENOUGH_DISK_SPACE
  }
}

/** statfs itself failed (the directory is gone, or is not on a local file system). */
export class DiskSpaceUnknown extends Schema.TaggedError<DiskSpaceUnknown>()("DiskSpaceUnknown", {
  dir: Schema.String,
  reason: Schema.String
}, { httpApiStatus: 500 }) {}

/** Enough means at least the limit: the manual stops the recording when the space is "less than a limit". */
export const hasEnoughSpace = (availableBytes: number, minBytes: number): boolean => availableBytes >= minBytes

/** Bytes an unprivileged process may still write on the file system holding `dir` (statfs bavail * bsize). */
export const availableSpace = (dir: string): Effect.Effect<number, DiskSpaceUnknown> =>
  Effect.tryPromise({
    try: () => fs.promises.statfs(dir),
    catch: (cause) => new DiskSpaceUnknown({ dir, reason: String(cause) })
  }).pipe(Effect.map((stats) => stats.bavail * stats.bsize))

/** Where the guard reads free space from; tests swap in a Ref they can lower. */
export class DiskSpace extends Context.Service<DiskSpace, {
  readonly available: (dir: string) => Effect.Effect<number, DiskSpaceUnknown>
}>()("capstan/pipelines/DiskSpace") {
  static readonly layer: Layer.Layer<DiskSpace> = Layer.succeed(DiskSpace, DiskSpace.of({ available: availableSpace }))

  /** Every directory reports the bytes held in `ref`. */
  static readonly layerTest = (ref: Ref.Ref<number>): Layer.Layer<DiskSpace> =>
    Layer.succeed(DiskSpace, DiskSpace.of({ available: () => Ref.get(ref) }))
}

/** Succeeds with the available bytes, or fails when they are below `minBytes`; run before a recording starts. */
export const checkDiskSpace = Effect.fn("DiskGuard.check")(function*(dir: string, minBytes: number) {
  const diskSpace = yield* DiskSpace
  const available = yield* diskSpace.available(dir)
  if (!hasEnoughSpace(available, minBytes)) {
    return yield* new NotEnoughDiskSpace({ dir, available, required: minBytes })
  }
  return available
})

/**
 * How often a running recording checks the disk. A 1080p stream at 6 Mbit/s writes under 4 MB in 5 s, so with the
 * default 1 GB limit the disk is never overrun by more than a few megabytes between checks, while one statfs
 * every 5 s per recording costs nothing measurable.
 */
export const DISK_CHECK_PERIOD = Duration.seconds(5)

export const diskCheckSchedule: Schedule.Schedule<number> = Schedule.spaced(DISK_CHECK_PERIOD)

/**
 * Checks now and then every period until the space is low, then runs `onLow` once and returns. A failed statfs is
 * logged and the watch goes on: the writes themselves report a disk that is really gone (ENOSPC).
 */
export const watchDiskSpace = <E, R>(
  dir: string,
  minBytes: number,
  onLow: (error: NotEnoughDiskSpace) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R | DiskSpace> =>
  checkDiskSpace(dir, minBytes).pipe(
    Effect.catchTag("DiskSpaceUnknown", (error) => Effect.logWarning(`disk space of ${dir} unknown: ${error.reason}`)),
    Effect.repeat(diskCheckSchedule),
    Effect.asVoid,
    Effect.catchTag("NotEnoughDiskSpace", onLow)
  )
