/**
 * The small contract every container writer fulfils for the recording pipeline: append frames
 * synchronously while recording, then finalize into a named file as a separate, heavier step.
 */
import type { Effect } from "effect"
import type { Frame, Track } from "../media/frame.ts"

export type ContainerName = "mp4" | "webm" | "mkv" | "ts"

export interface FinalizedFile {
  readonly path: string
  readonly bytes: number
  /** Presentation duration of the file in seconds. */
  readonly durationSeconds: number
}

export class ContainerWriteError {
  readonly _tag = "ContainerWriteError"
  readonly message: string
  readonly code: string | undefined
  constructor(message: string, code?: string) {
    this.message = message
    this.code = code
  }
}

/** One open file being written. `push` never throws: it returns the error instead. */
export interface ContainerWriter {
  readonly push: (trackIndex: number, frame: Frame) => ContainerWriteError | undefined
  /** Bytes of media data written so far (the size a size rotation compares against). */
  readonly bytesWritten: () => number
  /** Moves the data into `finalPath` (write, fsync, rename); no partial file ever has that name. */
  readonly finalize: (finalPath: string) => Effect.Effect<FinalizedFile, ContainerWriteError>
  /** Drops the temporary data; used when nothing was recorded. */
  readonly abort: () => Effect.Effect<void>
  /**
   * Optional: true when the file's header is about to outgrow the space the container reserved for it (MP4 with
   * mp4_container_moov_first_reserve_space, "rotation by MP4 header filling"). The pipeline asks at every cut
   * point (video keyframe, or any frame of an audio-only stream) and, when true, rotates there as if the rotation
   * policy had asked. The writer answers early enough for one more GOP like the last one to still fit.
   */
  readonly headerFull?: () => boolean
}

export interface ContainerFormat {
  readonly name: ContainerName
  readonly extension: string
  readonly open: (options: {
    readonly tmpPath: string
    readonly tracks: ReadonlyArray<Track>
    readonly creationTime: Date
    /** The published stream; a writer keeps it with its temporary files, so crash recovery can name the stream. */
    readonly streamName?: string
  }) => ContainerWriter | ContainerWriteError
}
