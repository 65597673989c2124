/**
 * The registry of media sessions: it opens a session actor for every publication, keeps the sessions
 * for the REST API, and owns the supervised fiber sets that run the sessions and finalize their files.
 * One session failing or being interrupted never touches another; its file is still finalized.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Cause } from "effect"
import { Clock, Context, Deferred, Effect, Fiber, FiberSet, Layer, Option, PubSub, Queue, Scope } from "effect"
import { findFfmpeg } from "../media/ffmpeg-binary.ts"
import { AudioTranscoder, TranscoderError } from "../pipelines/audio-transcoder.ts"
import type { Publication, PublishRequest } from "../media/publisher.ts"
import { Publisher, PublishRejected } from "../media/publisher.ts"
import { DiskSpace, diskCheckSchedule, hasEnoughSpace, NOT_ENOUGH_DISK_SPACE } from "../pipelines/disk-guard.ts"
import { FinalizerPool } from "../pipelines/finalizer-pool.ts"
import type { FinalizedRecording } from "./fragment-finalizer.ts"
import { finalizeFragment } from "./fragment-finalizer.ts"
import type { SessionCommand, SessionServices } from "./media-session.ts"
import { MediaSession, planRecording, runSession } from "./media-session.ts"
import type { RecordingOverrides } from "./recorder-control.ts"
import { InvalidRecordingConfig, RecorderControl, RecorderFailure, SessionNotFound } from "./recorder-control.ts"
import { RecorderEnvironment } from "./recorder-settings.ts"

/** How many ended sessions stay in the list, so a client can still read how they ended. */
const ENDED_SESSIONS_KEPT = 256

export class MediaSessions extends Context.Service<MediaSessions, {
  readonly get: (mediaSessionId: string) => MediaSession | undefined
  readonly all: () => ReadonlyArray<MediaSession>
  /** Every finalized file, as it is finalized. */
  readonly finalized: PubSub.PubSub<FinalizedRecording>
}>()("capstan/actors/MediaSessions") {
  /** Provides MediaSessions, the Publisher port for the protocols and RecorderControl for the HTTP API. */
  static readonly layer: Layer.Layer<
    MediaSessions | Publisher | RecorderControl,
    never,
    RecorderEnvironment | DiskSpace | FinalizerPool | AudioTranscoder
  > = Layer
    .effectContext(Effect.gen(function*() {
      const { settings, runHook } = yield* RecorderEnvironment
      const diskSpace = yield* DiskSpace
      const transcoders = yield* AudioTranscoder
      // ffmpeg is looked up once, when the first recording needs a transcoder.
      const ffmpeg = yield* Effect.cached(findFfmpeg(Option.fromUndefinedOr(settings.transcode.ffmpegPath)))
      const clock = yield* Clock.Clock
      const finalized = yield* PubSub.unbounded<FinalizedRecording>()
      const finalizers = yield* FiberSet.make<void>()
      const sessionFibers = yield* FiberSet.make<void>()
      const pool = yield* FinalizerPool
      const sessions = new Map<string, MediaSession>()
      const ended: Array<string> = []

      yield* Effect.sync(() => fs.mkdirSync(settings.recordDir, { recursive: true }))
      yield* Effect.sync(() => fs.mkdirSync(settings.tmpDir, { recursive: true }))

      const finalizerServices = {
        settings,
        runHook,
        onFinalized: (recording: FinalizedRecording) =>
          Effect.suspend(() => {
            sessions.get(recording.mediaSessionId)?.finished.push(path.basename(recording.path))
            return PubSub.publish(finalized, recording)
          }).pipe(Effect.asVoid)
      }
      const sessionServices: SessionServices = {
        settings,
        nowMillis: () => clock.currentTimeMillisUnsafe(),
        startTranscoder: (input, target, onFrame, onError, scope) =>
          ffmpeg.pipe(
            Effect.mapError((error) => new TranscoderError({ reason: "SpawnFailed", message: error.reason })),
            Effect.flatMap((ffmpegPath) =>
              transcoders.start({ input, target, ...settings.transcode, ffmpegPath, onFrame, onError })
            ),
            Scope.provide(scope)
          ),
        finalize: (_session: MediaSession, fragment: Parameters<typeof finalizeFragment>[1], template: string) =>
          FiberSet.run(
            finalizers,
            pool.run(finalizeFragment(finalizerServices, fragment, template)).pipe(
              Effect.catchCause((cause) => Effect.logError("finalizer failed", cause)),
              Effect.uninterruptible
            )
          )
      }

      const recordingDirs = Array.from(new Set([settings.recordDir, settings.tmpDir]))
      /** Whether every directory recordings write to has file_recorder_min_space left; logs when one has not. */
      const enoughSpace = Effect.gen(function*() {
        for (const dir of recordingDirs) {
          const available = yield* diskSpace.available(dir).pipe(
            Effect.catchTag("DiskSpaceUnknown", (error) =>
              Effect.as(Effect.logWarning(`disk space of ${dir} unknown: ${error.reason}`), Infinity))
          )
          if (!hasEnoughSpace(available, settings.minSpaceBytes)) {
            yield* Effect.logError(
              `${NOT_ENOUGH_DISK_SPACE} in ${dir}: ${available} bytes left, file_recorder_min_space is ` +
                `${settings.minSpaceBytes}`
            )
            return false
          }
        }
        return true
      })

      // The disk guard: while anything records, check the space periodically and stop recordings cleanly
      // (finalized, hook run) when it runs low.
      yield* Effect.gen(function*() {
        const recording = Array.from(sessions.values()).filter((session) => session.plan !== undefined)
        if (recording.length === 0 || (yield* enoughSpace)) return
        for (const session of recording) {
          Queue.offerUnsafe(session.queue, { kind: "stop", done: undefined, reason: NOT_ENOUGH_DISK_SPACE })
        }
      }).pipe(Effect.repeat(diskCheckSchedule), Effect.forkScoped)

      const forget = (id: string) => {
        ended.push(id)
        while (ended.length > ENDED_SESSIONS_KEPT) sessions.delete(ended.shift()!)
      }

      const open = Effect.fn("MediaSessions.open")(function*(request: PublishRequest) {
        for (const session of sessions.values()) {
          if (session.status === "PUBLISHING" && session.request.streamName === request.streamName) {
            return yield* new PublishRejected({ reason: `stream ${request.streamName} is already publishing` })
          }
        }
        const id = crypto.randomUUID()
        const queue = yield* Queue.unbounded<SessionCommand, Cause.Done>()
        const session = new MediaSession(id, request, queue)
        if (request.record && settings.recordStreams) {
          const plan = planRecording(settings, {})
          if (!(yield* enoughSpace)) session.reason = NOT_ENOUGH_DISK_SPACE
          else if (!(plan instanceof InvalidRecordingConfig)) session.plan = plan
        }
        sessions.set(id, session)
        const fiber = yield* FiberSet.run(
          sessionFibers,
          runSession(session, sessionServices).pipe(
            Effect.catchCause((cause) =>
              Effect.logError(`media session ${id} (${request.streamName}) failed`, cause).pipe(
                Effect.andThen(Effect.sync(() => {
                  session.status = "FAILED"
                  session.reason ??= "internal error"
                }))
              )
            )
          )
        )
        yield* Effect.logInfo(`${request.protocol} publish ${request.streamName} as media session ${id}`)
        const closed = yield* Deferred.make<void>()
        let closeStarted = false
        const finish = (reason: { readonly failed: boolean; readonly message: string }) =>
          Effect.gen(function*() {
            yield* Queue.end(queue)
            const exit = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(settings.stopTimeoutSeconds * 1000))
            if (exit._tag === "None") {
              yield* Effect.logWarning(
                `media session ${id}: finalization takes longer than record_stop_timeout ` +
                  `(${settings.stopTimeoutSeconds} s); it goes on in the background`
              )
            }
            if (session.status === "PUBLISHING") session.status = reason.failed ? "FAILED" : "UNPUBLISHED"
            if (reason.failed) session.reason ??= reason.message
            forget(id)
            yield* Effect.logInfo(`${request.protocol} unpublish ${request.streamName} (${reason.message})`)
          })
        // Idempotent: a second close (socket error after deleteStream) waits for the first one.
        const close = (reason: { readonly failed: boolean; readonly message: string }) =>
          Effect.suspend(() => {
            if (closeStarted) return Deferred.await(closed)
            closeStarted = true
            return finish(reason).pipe(Effect.ensuring(Deferred.succeed(closed, undefined)))
          })
        return {
          mediaSessionId: id,
          track: (track) => Queue.offerUnsafe(queue, { kind: "track", track }),
          frame: (frame) => Queue.offerUnsafe(queue, frame),
          close
        } satisfies Publication
      })

      const find = (mediaSessionId: string) => {
        const session = sessions.get(mediaSessionId)
        if (session === undefined) {
          return Effect.fail(new SessionNotFound({ mediaSessionId, reason: `no media session ${mediaSessionId}` }))
        }
        if (session.status !== "PUBLISHING") {
          return Effect.fail(
            new SessionNotFound({ mediaSessionId, reason: `media session ${mediaSessionId} is ${session.status}` })
          )
        }
        return Effect.succeed(session)
      }

      const command = <E>(
        session: MediaSession,
        make: (done: Deferred.Deferred<void, E>) => SessionCommand
      ): Effect.Effect<void, E | RecorderFailure> =>
        Effect.gen(function*() {
          const done = yield* Deferred.make<void, E>()
          if (!Queue.offerUnsafe(session.queue, make(done))) {
            return yield* new RecorderFailure({ reason: `media session ${session.id} is closing` })
          }
          return yield* Deferred.await(done)
        })

      const control = RecorderControl.of({
        listSessions: Effect.sync(() => Array.from(sessions.values(), (session) => session.view(settings))),
        listRecordings: Effect.sync(() =>
          Array.from(sessions.values()).flatMap((session) => {
            const fileName = session.currentFileName(settings)
            return fileName === undefined ? [] : [{ fileName, mediaSessionId: session.id }]
          })
        ),
        startRecording: (mediaSessionId: string, overrides: RecordingOverrides) =>
          Effect.gen(function*() {
            const session = yield* find(mediaSessionId)
            if (!(yield* enoughSpace)) return yield* new RecorderFailure({ reason: NOT_ENOUGH_DISK_SPACE })
            return yield* command<InvalidRecordingConfig>(session, (done) => ({ kind: "start", overrides, done }))
          }),
        listFinished: (mediaSessionId: string) =>
          Effect.suspend(() => {
            const session = sessions.get(mediaSessionId)
            if (session === undefined) {
              return Effect.fail(new SessionNotFound({ mediaSessionId, reason: `no media session ${mediaSessionId}` }))
            }
            return Effect.succeed(session.finished.map((fileName) => ({
              fileName,
              mediaSessionId,
              streamName: session.request.streamName
            })).reverse())
          }),
        stopRecording: (mediaSessionId: string) =>
          Effect.flatMap(find(mediaSessionId), (session) => command<never>(session, (done) => ({ kind: "stop", done })))
      })

      const registry = MediaSessions.of({
        get: (id) => sessions.get(id),
        all: () => Array.from(sessions.values()),
        finalized
      })
      return Context.make(MediaSessions, registry).pipe(
        Context.add(Publisher, Publisher.of({ open })),
        Context.add(RecorderControl, control)
      )
    }))
}

