/**
 * The multi-recorders (manual: "Multirecorder REST API"): each records several media sessions into one MP4 or MKV
 * (multi_record_format), keyed by its uri. Streams are tapped in the session actors' own fibers, so a stream's
 * frames reach the file in order; the file is finalized in the finalizer pool, then on_multiple_record_hook_script
 * runs. What the taps report from those fibers (refused tracks, an error budget spent) reaches this actor through
 * a queue, so it is logged and acted on here.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Clock, Context, Effect, Fiber, FiberSet, Layer, Queue, Schema } from "effect"
import { DiskSpace, diskCheckSchedule, hasEnoughSpace, NOT_ENOUGH_DISK_SPACE } from "../pipelines/disk-guard.ts"
import { FinalizerPool } from "../pipelines/finalizer-pool.ts"
import { MultiRecording } from "../pipelines/multi-recording.ts"
import { multiRecorderStreamName } from "../pipelines/naming/template.ts"
import { MediaSessions } from "./media-sessions.ts"
import { openMultiRecordFile } from "./multi-record-files.ts"
import { RecorderFailure } from "./recorder-control.ts"
import { RecorderEnvironment } from "./recorder-settings.ts"

export class MultiRecorderNotFound extends Schema.TaggedError<MultiRecorderNotFound>()("MultiRecorderNotFound", {
  reason: Schema.String
}, { httpApiStatus: 404 }) {}

export class MultiRecorderConflict extends Schema.TaggedError<MultiRecorderConflict>()("MultiRecorderConflict", {
  reason: Schema.String
}, { httpApiStatus: 409 }) {}

export const MultiRecorderView = Schema.Struct({
  mediaSessionsId: Schema.Array(Schema.String),
  uri: Schema.String,
  fileName: Schema.String
})
export type MultiRecorderView = typeof MultiRecorderView.Type

export class MultiRecorders extends Context.Service<MultiRecorders, {
  readonly startup: (uri: string) => Effect.Effect<void, MultiRecorderConflict | RecorderFailure>
  readonly add: (uri: string, mediaSessionId: string) => Effect.Effect<void, MultiRecorderNotFound | MultiRecorderConflict>
  readonly remove: (uri: string, mediaSessionId: string) => Effect.Effect<void, MultiRecorderNotFound>
  readonly terminate: (uri: string) => Effect.Effect<void, MultiRecorderNotFound | RecorderFailure>
  readonly list: Effect.Effect<ReadonlyArray<MultiRecorderView>>
}>()("capstan/actors/MultiRecorders") {
  static readonly layer: Layer.Layer<
    MultiRecorders,
    never,
    MediaSessions | RecorderEnvironment | FinalizerPool | DiskSpace
  > = Layer
    .effect(
      MultiRecorders,
      Effect.gen(function*() {
        const sessions = yield* MediaSessions
        const { runMultiHook, settings } = yield* RecorderEnvironment
        const pool = yield* FinalizerPool
        const diskSpace = yield* DiskSpace
        const clock = yield* Clock.Clock
        const nowMillis = () => clock.currentTimeMillisUnsafe()
        const recorders = new Map<string, MultiRecording>()
        /** Reports of the taps, from the sessions' fibers. */
        const events = yield* Queue.unbounded<
          { readonly _tag: "Rejected"; readonly uri: string; readonly message: string } | {
            readonly _tag: "Exhausted"
            readonly recording: MultiRecording
            readonly reason: string
          }
        >()
        yield* Effect.sync(() => fs.mkdirSync(settings.multiRecordDir, { recursive: true }))

        /** The file name, as the manual renders it: the uri as stream name, -1 for the stream-clock times. */
        const fileName = (recording: MultiRecording, endMillis: number | undefined) =>
          settings.fileName(settings.template, {
            streamName: multiRecorderStreamName(recording.uri),
            mediaSessionId: "",
            sessionId: "",
            login: "",
            videoCodec: "",
            audioCodec: "",
            startTime: -1,
            endTime: -1,
            durationMillis: endMillis === undefined ? undefined : endMillis - recording.startMillis,
            startTimeMillis: recording.startMillis,
            endTimeMillis: endMillis,
            index: 1,
            rotating: false
          }, recording.file.extension)

        const find = (uri: string) => {
          const recording = recorders.get(uri)
          return recording === undefined
            ? Effect.fail(new MultiRecorderNotFound({ reason: `no multi-recorder ${uri}` }))
            : Effect.succeed(recording)
        }

        const untapAll = (recording: MultiRecording) => {
          for (const id of recording.taps.keys()) sessions.get(id)?.taps.delete(recording.uri)
          recording.taps.clear()
        }

        /** Multi-record hooks, in the background; a shutdown stops them (the hook's process group is killed). */
        const hooks = yield* FiberSet.make<void>()
        /** Multi-recordings being finished in the background; a shutdown waits for them. */
        const finishing = yield* FiberSet.make<void, RecorderFailure>()

        /**
         * Finalizes in the pool, uninterruptibly, then starts the hook in the background (the default one mixes the
         * file, which takes about as long as the recording).
         */
        const finish = (recording: MultiRecording) =>
          Effect.gen(function*() {
            untapAll(recording)
            const finalPath = path.join(settings.multiRecordDir, fileName(recording, nowMillis()))
            const info = yield* pool.run(recording.file.finalize(finalPath))
            yield* Effect.logInfo(`multi-recorded ${recording.uri} to ${info.path} (${info.tracks} tracks)`)
            yield* FiberSet.run(hooks, runMultiHook(recording.uri, info.path))
          }).pipe(
            Effect.catch((error) =>
              error.empty
                ? Effect.andThen(
                  recording.file.abort(),
                  Effect.logInfo(`multi-recorder ${recording.uri}: nothing recorded`)
                )
                : Effect.fail(new RecorderFailure({ reason: `multi-recorder ${recording.uri}: ${error.message}` }))),
            Effect.uninterruptible
          )

        /**
         * Finishes in the background and waits for it at most record_stop_timeout, as a stream's recording stop does:
         * past that the caller gets an answer and the file is still finished. A failure within the wait is reported.
         */
        const finishWithin = (recording: MultiRecording) =>
          Effect.gen(function*() {
            const fiber = yield* FiberSet.run(
              finishing,
              finish(recording).pipe(Effect.tapError((failure) => Effect.logError(failure.reason)))
            )
            const exit = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(settings.stopTimeoutSeconds * 1000))
            if (exit._tag === "None") {
              return yield* Effect.logWarning(
                `multi-recorder ${recording.uri}: finalizing takes longer than record_stop_timeout ` +
                  `(${settings.stopTimeoutSeconds} s); it goes on in the background`
              )
            }
            return yield* exit.value
          })

        yield* Effect.gen(function*() {
          const event = yield* Queue.take(events)
          if (event._tag === "Rejected") {
            return yield* Effect.logWarning(`multi-recorder ${event.uri}: ${event.message}`)
          }
          const { recording } = event
          if (recorders.get(recording.uri) !== recording) return
          recorders.delete(recording.uri)
          yield* Effect.logError(`multi-recorder ${recording.uri} stopped: ${event.reason}`)
          yield* Effect.ignore(finishWithin(recording))
        }).pipe(Effect.forever, Effect.forkScoped)

        /** file_recorder_min_space in multi_record_dir and the temp dir; unknown space counts as enough. */
        const enoughSpace = Effect.forEach(
          [...new Set([settings.multiRecordDir, settings.tmpDir])],
          (dir) =>
            diskSpace.available(dir).pipe(
              Effect.map((available) => hasEnoughSpace(available, settings.minSpaceBytes)),
              Effect.catchTag("DiskSpaceUnknown", () => Effect.succeed(true))
            )
        ).pipe(Effect.map((checks) => checks.every(Boolean)))

        // The disk guard: running multi-recordings stop cleanly (finalized, hook run) when space runs low.
        yield* Effect.gen(function*() {
          if (recorders.size === 0 || (yield* enoughSpace)) return
          for (const recording of [...recorders.values()]) {
            recorders.delete(recording.uri)
            yield* Effect.logError(`${NOT_ENOUGH_DISK_SPACE}: multi-recorder ${recording.uri} stopped`)
            yield* Effect.ignore(finishWithin(recording))
          }
        }).pipe(Effect.repeat(diskCheckSchedule), Effect.forkScoped)

        // At shutdown every running multi-recording is finished and those finishing in the background are waited
        // for; then the hooks still running are stopped.
        yield* Effect.addFinalizer(() =>
          Effect.andThen(
            Effect.forEach([...recorders.values()], (recording) => Effect.ignore(finish(recording)), { discard: true }),
            FiberSet.awaitEmpty(finishing)
          )
        )

        return MultiRecorders.of({
          startup: Effect.fn("MultiRecorders.startup")(function*(uri: string) {
            if (recorders.has(uri)) return yield* new MultiRecorderConflict({ reason: `multi-recorder ${uri} is running` })
            if (!(yield* enoughSpace)) {
              yield* Effect.logError(`${NOT_ENOUGH_DISK_SPACE}: multi-recorder ${uri} not started`)
              return yield* new RecorderFailure({ reason: NOT_ENOUGH_DISK_SPACE })
            }
            const creationMillis = nowMillis()
            const file = yield* openMultiRecordFile({
              format: settings.multiRecordFormat,
              tmpStem: path.join(settings.tmpDir, `.multi-${multiRecorderStreamName(uri)}-${creationMillis}`),
              creationMillis,
              clusterLimits: settings.clusterLimits
            }).pipe(Effect.mapError((error) => new RecorderFailure({ reason: error.message })))
            const warned = new Set<string>()
            recorders.set(uri, new MultiRecording({
              uri,
              file,
              nowMillis,
              errorBudget: settings.errorBudget,
              onRejected: (message) => {
                if (warned.has(message)) return
                warned.add(message)
                Queue.offerUnsafe(events, { _tag: "Rejected", uri, message })
              },
              onExhausted: (recording, reason) => {
                Queue.offerUnsafe(events, { _tag: "Exhausted", recording, reason })
              }
            }))
            yield* Effect.logInfo(`multi-recorder ${uri} started`)
          }),
          add: Effect.fn("MultiRecorders.add")(function*(uri: string, mediaSessionId: string) {
            const recording = yield* find(uri)
            const session = sessions.get(mediaSessionId)
            if (session === undefined || session.status !== "PUBLISHING") {
              return yield* new MultiRecorderNotFound({ reason: `no publishing media session ${mediaSessionId}` })
            }
            if (recording.taps.has(mediaSessionId)) {
              return yield* new MultiRecorderConflict({ reason: `${mediaSessionId} is already in ${uri}` })
            }
            const tap = recording.tap(mediaSessionId, session.request.streamName, () =>
              session.tracks.some((track) => track.kind === "video"))
            session.taps.set(uri, tap)
            session.request.requestKeyframe?.()
          }),
          remove: Effect.fn("MultiRecorders.remove")(function*(uri: string, mediaSessionId: string) {
            const recording = yield* find(uri)
            if (recording.untap(mediaSessionId) === undefined) {
              return yield* new MultiRecorderNotFound({ reason: `${mediaSessionId} is not in ${uri}` })
            }
            sessions.get(mediaSessionId)?.taps.delete(uri)
          }),
          terminate: Effect.fn("MultiRecorders.terminate")(function*(uri: string) {
            const recording = yield* find(uri)
            recorders.delete(uri)
            yield* finishWithin(recording)
          }),
          list: Effect.sync(() =>
            [...recorders.values()].map((recording) => ({
              mediaSessionsId: [...recording.taps.keys()],
              uri: recording.uri,
              fileName: fileName(recording, undefined)
            }))
          )
        })
      })
    )
}
