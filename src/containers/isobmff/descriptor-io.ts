/**
 * Positioned writes and syncs on the raw file descriptors a recording keeps open: synchronous for the per-chunk
 * path (a write error comes back from the push that caused it), as Effects for the header updates that run beside
 * it on libuv's thread pool (an fdatasync must not block the event loop).
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { ioError, type Mp4WriteError } from "./mp4-write-error.ts"

/** pwrite of `length` bytes of `buffer`, retrying short writes; the error instead of a throw. */
export const writeAllSync = (
  fd: number,
  buffer: Uint8Array,
  position: number,
  file: string,
  length = buffer.length
): Mp4WriteError | undefined => {
  try {
    let done = 0
    while (done < length) done += fs.writeSync(fd, buffer, done, length - done, position + done)
    return undefined
  } catch (cause) {
    return ioError("write", file, cause)
  }
}

const writeOnce = (fd: number, buffer: Uint8Array, offset: number, position: number, file: string) =>
  Effect.callback<number, Mp4WriteError>((resume) => {
    fs.write(fd, buffer, offset, buffer.length - offset, position, (error, written) =>
      resume(error ? Effect.fail(ioError("write", file, error)) : Effect.succeed(written)))
  })

/** pwrite of the whole buffer at `position`, retrying short writes, off the event loop. */
export const writeAll = (fd: number, buffer: Uint8Array, position: number, file: string) =>
  Effect.gen(function*() {
    let done = 0
    while (done < buffer.length) done += yield* writeOnce(fd, buffer, done, position + done, file)
  })

/** fdatasync: what was written to `fd` before is on the device before anything written after the call. */
export const dataSync = (fd: number, file: string) =>
  Effect.callback<void, Mp4WriteError>((resume) => {
    fs.fdatasync(fd, (error) => resume(error ? Effect.fail(ioError("fdatasync", file, error)) : Effect.void))
  })
