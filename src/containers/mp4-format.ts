/**
 * MP4 as a ContainerFormat for the recording pipeline: adapts the isobmff Mp4Recorder to the
 * pipeline's writer contract (sync push, finalize into a named file).
 */
import { Effect, Exit } from "effect"
import type { ContainerFormat, ContainerWriter } from "../pipelines/container-format.ts"
import { ContainerWriteError } from "../pipelines/container-format.ts"
import { Mp4Recorder, type Mp4WriteError } from "./isobmff/index.ts"

export interface Mp4FormatOptions {
  /** mp4_container_moov_first: moov before mdat. */
  readonly moovFirst: boolean
}

const writeError = (error: Mp4WriteError): ContainerWriteError =>
  new ContainerWriteError(error.message, /ENOSPC/.test(error.message) ? "ENOSPC" : error.reason)

export const mp4Format = (options: Mp4FormatOptions): ContainerFormat => ({
  name: "mp4",
  extension: "mp4",
  open: ({ tmpPath, tracks, creationTime }) => {
    // Opening creates two files synchronously; it happens once per fragment, never per frame.
    const opened = Effect.runSyncExit(Mp4Recorder.open({ tmpPath, tracks, creationTime: creationTime.getTime() }))
    if (Exit.isFailure(opened)) {
      const error = opened.cause.reasons.find((reason) => reason._tag === "Fail")
      return new ContainerWriteError(error?._tag === "Fail" ? String(error.error.message) : "cannot open MP4 writer")
    }
    const recorder = opened.value
    const writer: ContainerWriter = {
      push: (trackIndex, frame) => {
        const error = recorder.push(trackIndex, frame)
        return error === undefined ? undefined : writeError(error)
      },
      bytesWritten: () => recorder.bytesWritten,
      finalize: (finalPath) =>
        recorder.finalize({ finalPath, moovFirst: options.moovFirst }).pipe(
          Effect.map((info) => ({ path: info.path, bytes: info.bytes, durationSeconds: info.durationSeconds })),
          Effect.mapError(writeError)
        ),
      abort: () => recorder.abort()
    }
    return writer
  }
})
