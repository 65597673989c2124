/**
 * MP4 as a ContainerFormat for the recording pipeline: adapts the isobmff Mp4Recorder to the
 * pipeline's writer contract (sync push, finalize into a named file, header full = rotate).
 */
import { Effect, Exit } from "effect"
import type { ContainerFormat, ContainerWriter } from "../pipelines/container-format.ts"
import { ContainerWriteError } from "../pipelines/container-format.ts"
import { Mp4Recorder, type Mp4HeaderMode, type Mp4WriteError } from "./isobmff/index.ts"

export interface Mp4FormatOptions {
  /** mp4_container_moov_first: moov before mdat. */
  readonly moovFirst: boolean
  /** How the moov is written while recording (mp4HeaderModeOf); default AtFinalize. */
  readonly header?: Mp4HeaderMode
}

/** The header settings of the server config, as the recorder's header mode. */
export interface Mp4HeaderSettings {
  /** mp4_container_moov_first_reserve_space */
  readonly reserveSpace: boolean
  /** mp4_container_moov_reserved_space_size, kilobytes */
  readonly reservedKilobytes: number
  /** mp4_container_write_header_on_fly */
  readonly headerOnFly: boolean
  /** mp4_container_write_header_on_fly_interval, seconds */
  readonly headerOnFlySeconds: number
}

/**
 * The manual's combinations: a reservation puts the moov in reserved space (rewritten on the fly when asked);
 * header on the fly without one keeps the header in a `.header` file beside the `.tmp` data; otherwise the moov
 * is written at finalize.
 */
export const mp4HeaderModeOf = (settings: Mp4HeaderSettings): Mp4HeaderMode => {
  if (settings.reserveSpace) {
    return {
      _tag: "Reserved",
      reservedBytes: settings.reservedKilobytes * 1024,
      updateSeconds: settings.headerOnFly ? settings.headerOnFlySeconds : undefined
    }
  }
  return settings.headerOnFly ? { _tag: "Split", updateSeconds: settings.headerOnFlySeconds } : { _tag: "AtFinalize" }
}

const writeError = (error: Mp4WriteError): ContainerWriteError =>
  new ContainerWriteError(error.message, /ENOSPC/.test(error.message) ? "ENOSPC" : error.reason)

export const mp4Format = (options: Mp4FormatOptions): ContainerFormat => ({
  name: "mp4",
  extension: "mp4",
  open: ({ tmpPath, tracks, creationTime, streamName }) => {
    // Opening creates the files synchronously; it happens once per fragment, never per frame.
    const opened = Effect.runSyncExit(
      Mp4Recorder.open({ tmpPath, tracks, creationTime: creationTime.getTime(), header: options.header, streamName })
    )
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
      abort: () => recorder.abort(),
      headerFull: () => recorder.headerFull()
    }
    return writer
  }
})
