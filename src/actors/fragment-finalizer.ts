/**
 * The finalizer: turns a closed fragment into its named file in record_dir and runs the record hook.
 * Runs in the supervised finalizer pool, bounded by file_recorder_thread_pool_max_size, and is
 * uninterruptible so a shutdown waits for files instead of leaving them half written.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { ClosedFragment } from "../pipelines/recording.ts"
import type { RecorderSettings } from "./recorder-settings.ts"

export interface FinalizedRecording {
  readonly streamName: string
  readonly mediaSessionId: string
  readonly path: string
}

export interface FinalizerServices {
  readonly settings: RecorderSettings
  /** Runs the record hook for a finished file; never fails. */
  readonly runHook: (streamName: string, filePath: string) => Effect.Effect<void>
  /** Told about every finished file (session events, tests). */
  readonly onFinalized: (recording: FinalizedRecording) => Effect.Effect<void>
}

/** The codes of a finalize that found nothing to write: the Matroska and MPEG-TS writers', and MP4's. */
const NOTHING_RECORDED = new Set(["Empty", "NoSamples"])

export const finalizeFragment = Effect.fn("Finalizer.finalize")(function*(
  services: FinalizerServices,
  fragment: ClosedFragment,
  template: string
) {
  const { settings } = services
  const { streamName, mediaSessionId } = fragment.fields
  if (fragment.frames === 0) {
    yield* fragment.writer.abort()
    return
  }
  const fileName = settings.fileName(template, fragment.fields, fragment.extension)
  const finalPath = path.join(settings.recordDir, fileName)
  const finalized = yield* fragment.writer.finalize(finalPath).pipe(
    Effect.tapError((error) =>
      // Frames a writer accepts may all be ones it leaves out (none from the first video keyframe on): then there
      // is no file to make, and its temporary data goes. Any other failure keeps the data for crash recovery.
      NOTHING_RECORDED.has(error.code ?? "")
        ? Effect.andThen(
          fragment.writer.abort(),
          Effect.logInfo(`nothing recorded for stream ${streamName}: ${error.message}`)
        )
        : Effect.logError(`finalizing ${finalPath} for stream ${streamName} failed: ${error.message}`)
    ),
    Effect.option
  )
  if (finalized._tag === "None") return
  const file = finalized.value
  yield* Effect.logInfo(
    `recorded ${file.path} (${fragment.frames} frames, ${file.durationSeconds.toFixed(3)} s, ${file.bytes} bytes)`
  )
  yield* services.onFinalized({ streamName, mediaSessionId, path: file.path })
  if (settings.hookScript !== undefined) yield* services.runHook(streamName, file.path)
})
