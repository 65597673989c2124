/**
 * The callback after a mix (manual: "Multiple recording data callback"): a POST of JSON to callbackUrl naming the
 * multi-recording and the mixed file. Times are seconds since 1904-01-01 UTC, as MP4's mvhd keeps them (the
 * manual's example, 3724973476, is January 2022 in that epoch): the multi-recording's mvhd creation_time, or its
 * file's mtime when that is 0 or the file is MKV; the mixed file's mtime.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { MixerError } from "./mixer-error.ts"

/** Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01 (ISO/IEC 14496-12 8.2.2.3). */
export const MP4_EPOCH_OFFSET = 2_082_844_800

export const mp4Time = (unixMillis: number): number => Math.floor(unixMillis / 1000) + MP4_EPOCH_OFFSET

export const MixerParams = Schema.Struct({
  path: Schema.String,
  durationInMs: Schema.Int,
  creationModificationTime: Schema.Int
})

export const MultiRecorderCallback = Schema.Struct({
  multiRecorderCreationModificationTime: Schema.Int,
  multiRecorderDurationInMS: Schema.Int,
  multiRecorderFilePath: Schema.String,
  /** Left out when neither --uri nor the file name tells it. */
  recorderUri: Schema.optionalKey(Schema.String),
  mixerParams: Schema.Array(MixerParams)
})
export type MultiRecorderCallback = typeof MultiRecorderCallback.Type

const RECORDER_FILE_PREFIX = "multi-recorder___"

/**
 * The recorder's URI from a multi-recording's file name: the multi-recorder names its file after its URI with `:`
 * and `/` made `_` (multi-recorder://test-record -> multi-recorder___test-record...), so the prefix tells the scheme.
 * What follows may carry the name template's other parts ({startTimeMillis}...): it is kept as it is.
 */
export const recorderUriFromFileName = (file: string): string | undefined => {
  const base = path.basename(file, path.extname(file))
  return base.startsWith(RECORDER_FILE_PREFIX) && base.length > RECORDER_FILE_PREFIX.length
    ? `multi-recorder://${base.slice(RECORDER_FILE_PREFIX.length)}`
    : undefined
}

/** A file's mtime in the MP4 epoch. */
export const fileMp4Time = (file: string) =>
  Effect.tryPromise({
    try: () => fsp.stat(file),
    catch: (cause) => new MixerError({ reason: "UnreadableInput", message: `${file}: ${String(cause)}` })
  }).pipe(Effect.map((stats) => mp4Time(stats.mtimeMs)))

/** POSTs the callback JSON; fails with CallbackFailed on a network error or a status other than 2xx. */
export const postCallback = Effect.fn("MixerCallback.post")(function*(url: string, body: MultiRecorderCallback) {
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
  const request = HttpClientRequest.post(url).pipe(HttpClientRequest.bodyJsonUnsafe(body))
  yield* client.execute(request).pipe(
    Effect.mapError((error) =>
      new MixerError({ reason: "CallbackFailed", message: `callback to ${url} failed: ${error.message}` })
    ),
    Effect.timeoutOrElse({
      duration: "30 seconds",
      orElse: () => Effect.fail(new MixerError({ reason: "CallbackFailed", message: `callback to ${url} timed out` }))
    })
  )
  yield* Effect.logInfo(`callback sent to ${url}`)
})
