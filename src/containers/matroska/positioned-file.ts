/**
 * The temporary file a streaming container writer fills: positioned writes queued in order on one open fd, with
 * the first I/O error kept (never thrown), then fsync + rename into the final name. Shared by the Matroska and
 * MPEG-TS writers.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ContainerWriteError } from "../../pipelines/container-format.ts"

/** Queued bytes beyond which `write`'s promise waits for the disk: backpressure for a muxer that awaits it. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024
/** Largest single write made by joining queued writes that continue one another. */
const MAX_JOINED_BYTES = 1024 * 1024

/** A positioned write waiting for the one before it. */
interface PendingWrite {
  readonly data: Uint8Array
  readonly position: number
}

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** A ContainerWriteError from anything thrown or rejected, keeping the errno code (ENOSPC, EACCES, ...). */
export const toWriteError = (action: string, cause: unknown): ContainerWriteError =>
  cause instanceof ContainerWriteError
    ? cause
    : new ContainerWriteError(`${action}: ${cause instanceof Error ? cause.message : String(cause)}`, errorCode(cause))

export class PositionedFile {
  readonly path: string
  private fd: number
  private readonly queue: Array<PendingWrite> = []
  private writing = false
  private drainWaiters: Array<() => void> = []
  /** Bytes handed to `write` and not yet on disk. */
  private queued = 0
  /** One past the highest byte written so far: the file's size. */
  private end = 0
  private failure: ContainerWriteError | undefined

  private constructor(filePath: string, fd: number) {
    this.path = filePath
    this.fd = fd
  }

  /** Creates (truncates) the file synchronously, so a bad directory or permission is reported at once. */
  static create(filePath: string): PositionedFile | ContainerWriteError {
    try {
      return new PositionedFile(filePath, fs.openSync(filePath, "w"))
    } catch (cause) {
      return toWriteError(`open ${filePath}`, cause)
    }
  }

  get error(): ContainerWriteError | undefined {
    return this.failure
  }

  get queuedBytes(): number {
    return this.queued
  }

  get size(): number {
    return this.end
  }

  /**
   * Queues `data` for `position` (keeping a reference: the caller must not reuse the buffer). The returned promise
   * settles at once while less than HIGH_WATER_BYTES wait, else when the queue is empty; it never rejects.
   */
  write(data: Uint8Array, position: number): Promise<void> {
    if (this.failure !== undefined || this.fd < 0) return Promise.resolve()
    this.queue.push({ data, position })
    this.queued += data.byteLength
    if (!this.writing) this.next()
    return this.queued > HIGH_WATER_BYTES ? this.drained() : Promise.resolve()
  }

  /** Settles when every queued write has finished (or failed). */
  drained(): Promise<void> {
    if (!this.writing) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private next(): void {
    const item = this.joinedHead()
    if (item === undefined || this.failure !== undefined) {
      this.writing = false
      this.queue.length = 0
      this.queued = 0
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const resolve of waiters) resolve()
      return
    }
    this.writing = true
    this.writeFully(item, 0)
  }

  /** The first queued write, joined with the writes that continue it (an append-mostly muxer makes many). */
  private joinedHead(): PendingWrite | undefined {
    const first = this.queue.shift()
    if (first === undefined) return undefined
    let count = 0
    let size = first.data.byteLength
    let end = first.position + size
    while (count < this.queue.length) {
      const next = this.queue[count]!
      if (next.position !== end || size + next.data.byteLength > MAX_JOINED_BYTES) break
      size += next.data.byteLength
      end += next.data.byteLength
      count++
    }
    if (count === 0) return first
    const joined = new Uint8Array(size)
    joined.set(first.data, 0)
    let at = first.data.byteLength
    for (const next of this.queue.splice(0, count)) {
      joined.set(next.data, at)
      at += next.data.byteLength
    }
    return { data: joined, position: first.position }
  }

  private writeFully(item: PendingWrite, done: number): void {
    const remaining = item.data.byteLength - done
    fs.write(this.fd, item.data, done, remaining, item.position + done, (cause, written) => {
      if (cause !== null) {
        this.failure ??= toWriteError(`write ${this.path}`, cause)
        this.next()
        return
      }
      if (written < remaining) return this.writeFully(item, done + written)
      this.queued -= item.data.byteLength
      this.end = Math.max(this.end, item.position + item.data.byteLength)
      this.next()
    })
  }

  /** Waits for the queue, fsyncs, closes, renames to `finalPath` and fsyncs its directory; returns the size. */
  readonly commit = (finalPath: string): Effect.Effect<number, ContainerWriteError> =>
    Effect.gen({ self: this }, function*() {
      yield* Effect.promise(() => this.drained())
      if (this.failure !== undefined) return yield* Effect.fail(this.failure)
      const fd = this.fd
      this.fd = -1
      yield* io(`fsync ${this.path}`, (done) => fs.fsync(fd, done)).pipe(
        Effect.ensuring(Effect.ignore(io(`close ${this.path}`, (done) => fs.close(fd, done))))
      )
      yield* io(`rename ${this.path} to ${finalPath}`, (done) => fs.rename(this.path, finalPath, done))
      yield* syncDirectory(path.dirname(finalPath))
      return this.end
    })

  /** Closes the descriptor, keeping the file (after a finalize that failed); `discard` may still delete it. */
  readonly release = (): Effect.Effect<void> =>
    Effect.suspend(() => {
      const fd = this.fd
      this.fd = -1
      return fd < 0 ? Effect.void : Effect.ignore(io(`close ${this.path}`, (done) => fs.close(fd, done)))
    })

  /** Closes and deletes the file; nothing is reported (there is nothing to keep). */
  readonly discard = (): Effect.Effect<void> =>
    Effect.gen({ self: this }, function*() {
      yield* Effect.promise(() => this.drained())
      yield* this.release()
      yield* Effect.ignore(io(`unlink ${this.path}`, (done) => fs.unlink(this.path, done)))
    })
}

/** One callback-style fs call as an Effect, failing with the errno's ContainerWriteError. */
const io = (
  action: string,
  run: (done: (error: NodeJS.ErrnoException | null) => void) => void
): Effect.Effect<void, ContainerWriteError> =>
  Effect.callback<void, ContainerWriteError>((resume) => {
    run((error) => resume(error === null ? Effect.void : Effect.fail(toWriteError(action, error))))
  })

/** Makes the rename durable; some file systems refuse to fsync a directory, which is not an error. */
const syncDirectory = (directory: string): Effect.Effect<void> =>
  Effect.ignore(
    Effect.acquireUseRelease(
      Effect.callback<number, ContainerWriteError>((resume) => {
        fs.open(directory, "r", (error, fd) =>
          resume(error === null ? Effect.succeed(fd) : Effect.fail(toWriteError(`open ${directory}`, error))))
      }),
      (fd) => io(`fsync ${directory}`, (done) => fs.fsync(fd, done)),
      (fd) => Effect.ignore(io(`close ${directory}`, (done) => fs.close(fd, done)))
    )
  )
