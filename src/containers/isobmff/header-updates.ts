/**
 * Header on the fly (mp4_container_write_header_on_fly): every interval of media time the recorder writes a moov
 * for what it has recorded so far, into the reserved region or as the `NAME.header` file of a split recording, so
 * the recording plays even when the process dies before finalize. The writes run on libuv's thread pool beside the
 * pushes; one at a time, and a due update waits while the previous one still runs.
 *
 * The interval is counted in media time (the frames' dts), not wall time: no clock on the per-frame path, tests
 * need no sleeping, and a stalled stream, which has nothing new to cover, costs nothing.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { pendingHeaderPathOf } from "./data-layout.ts"
import { dataSync } from "./descriptor-io.ts"
import { io, syncDirectory } from "./file-moves.ts"
import { ioError, type Mp4WriteError } from "./mp4-write-error.ts"
import { writeRegion } from "./reserved-region.ts"

/** Replaces `headerPath` whole: the new bytes are written and synced under a temporary name, then renamed over. */
export const replaceHeaderFile = Effect.fn("Mp4Header.replaceFile")(function*(headerPath: string, bytes: Uint8Array) {
  const pending = pendingHeaderPathOf(headerPath)
  const handle = yield* io("open", pending, () => fsp.open(pending, "w"))
  yield* io("write", pending, () => handle.writeFile(bytes)).pipe(
    Effect.andThen(io("fsync", pending, () => handle.sync())),
    Effect.ensuring(Effect.promise(() => handle.close()))
  )
  yield* io("rename", pending, () => fsp.rename(pending, headerPath))
  yield* syncDirectory(path.dirname(headerPath))
})

/** The descriptors an update syncs: the media before any header that references it, and the journal beside it. */
export interface RecordingFiles {
  readonly dataFd: number
  readonly dataPath: string
  readonly journalFd: number
  readonly journalPath: string
}

/** A moov into the reserved region (reserved-region.ts orders the writes; its first sync covers the media). */
export const reservedUpdate = (files: RecordingFiles, moov: Uint8Array, reservedBytes: number) =>
  dataSync(files.journalFd, files.journalPath).pipe(
    Effect.andThen(writeRegion(files.dataFd, files.dataPath, moov, reservedBytes))
  )

/** ftyp + moov as the split recording's header file, once the media it references is on the device. */
export const splitUpdate = (files: RecordingFiles, headerPath: string, header: Uint8Array) =>
  dataSync(files.dataFd, files.dataPath).pipe(
    Effect.andThen(dataSync(files.journalFd, files.journalPath)),
    Effect.andThen(replaceHeaderFile(headerPath, header))
  )

/** When updates are due, the one running, and what the last finished one covers. */
export class HeaderSchedule {
  readonly intervalSeconds: number
  #nextAt = NaN
  #running: Fiber.Fiber<void, Mp4WriteError> | undefined
  #failure: Mp4WriteError | undefined
  /** Samples the last completed header references. */
  coveredSamples = 0
  /** Completed updates, for tests and benchmarks. */
  completed = 0

  constructor(intervalSeconds: number) {
    this.intervalSeconds = intervalSeconds
  }

  /** Whether an update should start at media time `seconds` (the first is due one interval after the first frame). */
  due(seconds: number): boolean {
    if (Number.isNaN(this.#nextAt)) this.#nextAt = seconds + this.intervalSeconds
    return this.#running === undefined && seconds >= this.#nextAt
  }

  /** Skips the update due now (the moov no longer fits its reservation): the next try is one interval later. */
  skip(seconds: number): void {
    this.#nextAt = seconds + this.intervalSeconds
  }

  /** Runs `update`, which writes a header covering `samples`; its failure is kept for `takeFailure`. */
  start(update: Effect.Effect<void, Mp4WriteError>, samples: number, seconds: number): void {
    this.#nextAt = seconds + this.intervalSeconds
    const fiber = Effect.runFork(update.pipe(Effect.withSpan("Mp4Header.update")))
    this.#running = fiber
    fiber.addObserver((exit) => {
      this.#running = undefined
      if (Exit.isSuccess(exit)) {
        this.coveredSamples = samples
        this.completed++
      } else {
        const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
        this.#failure = failure?._tag === "Fail"
          ? failure.error
          : ioError("update header of", "recording", exit.cause)
      }
    })
  }

  /** The failure of a finished update, once. */
  takeFailure(): Mp4WriteError | undefined {
    const failure = this.#failure
    this.#failure = undefined
    return failure
  }

  /** Waits for the update in flight, if any (before the descriptors close). */
  get settled(): Effect.Effect<void> {
    return Effect.suspend(() => (this.#running === undefined ? Effect.void : Effect.asVoid(Fiber.await(this.#running))))
  }
}
