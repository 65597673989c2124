/**
 * The media session actor: one published stream. The protocol pushes tracks and frames into its
 * queue; one fiber drains the queue in batches through the recording pipeline (keyframe gate, muxer,
 * rotator) and hands closed fragments to the finalizer. Start and stop commands travel through the
 * same queue, so they apply between two frames and never race the writer.
 */
import { Cause, Deferred, Effect, Exit, Fiber, Queue, Scope } from "effect"
import type { AudioTrack, Frame, Track } from "../media/frame.ts"
import type { Transcoder, TranscoderError } from "../pipelines/audio-transcoder.ts"
import type { TranscodeTarget } from "../pipelines/transcoder-command.ts"
import type { PublishRequest } from "../media/publisher.ts"
import type { ClosedFragment, NameFields } from "../pipelines/recording.ts"
import { Recording } from "../pipelines/recording.ts"
import { emptyErrorBudget, type ErrorBudget, errorBudgetReason, ErrorRecovery, record } from "../pipelines/error-budget.ts"
import { frameProblem } from "../pipelines/frame-check.ts"
import { NOT_ENOUGH_DISK_SPACE } from "../pipelines/disk-guard.ts"
import type { StreamTap } from "../pipelines/multi-recording.ts"
import type { Rotation } from "../pipelines/rotation-policy.ts"
import type { RecordingOverrides, SessionStatus, SessionView } from "./recorder-control.ts"
import { InvalidRecordingConfig } from "./recorder-control.ts"
import type { RecorderSettings } from "./recorder-settings.ts"
import { audioTranscodeTarget } from "./audio-transcode-target.ts"
import { SessionTranscoder } from "./session-transcoder.ts"

export type SessionCommand =
  | Frame
  | { readonly kind: "track"; readonly track: Track }
  | {
    readonly kind: "start"
    readonly overrides: RecordingOverrides
    readonly done: Deferred.Deferred<void, InvalidRecordingConfig>
  }
  | {
    readonly kind: "stop"
    readonly done: Deferred.Deferred<void> | undefined
    /** Why the recording stops on its own (disk space); undefined for a stop the client asked for. */
    readonly reason?: string | undefined
  }

/** What the session needs from its surroundings: where fragments go once closed. */
export interface SessionServices {
  readonly settings: RecorderSettings
  /** Starts finalizing a closed fragment in the supervised finalizer pool and returns its fiber. */
  readonly finalize: (
    session: MediaSession,
    fragment: ClosedFragment,
    template: string
  ) => Effect.Effect<Fiber.Fiber<void>>
  readonly nowMillis: () => number
  /**
   * Starts a transcoder to `target` for audio the recording's container cannot keep (Opus, G.711 into MP4; AAC into
   * WebM), living in `scope`; its frames come back through `onFrame`, from its own fiber.
   */
  readonly startTranscoder: (
    input: AudioTrack,
    target: TranscodeTarget,
    onFrame: (frame: Frame) => void,
    onError: (message: string) => void,
    scope: Scope.Scope
  ) => Effect.Effect<Transcoder, TranscoderError>
}

/**
 * How long a recording waits for a stream's second track. Some protocols declare a track only with its first
 * frame (MPEG-TS, RTP), so the audio can come a little after the first video frame; a file opened without it
 * could not take it later.
 */
export const TRACK_SETTLE_SECONDS = 1

/** At most this many frames (about 10 s of audio and video) wait for a recording to open. */
const EARLY_FRAMES_MAX = 1000

interface RecordingPlan {
  readonly template: string
  readonly rotation: Rotation
}

export class MediaSession {
  readonly id: string
  readonly request: PublishRequest
  readonly queue: Queue.Queue<SessionCommand, Cause.Done>
  status: SessionStatus = "PUBLISHING"
  reason: string | null = null
  readonly tracks: Array<Track> = []
  /** Set while the session should record (from publish or the REST API), even before the first keyframe. */
  plan: RecordingPlan | undefined
  recording: Recording | undefined
  /** Drops frames after an error until the next keyframe; one per recording. */
  recovery: ErrorRecovery | undefined
  budget: ErrorBudget | undefined
  recordingExtension = ""
  /** Frames held while the recording waits for the stream's other track to be declared (see TRACK_SETTLE_SECONDS). */
  early: Array<Frame> = []
  /** Multi-recordings this session's frames also go to, by recorder uri. */
  readonly taps = new Map<string, StreamTap>()
  /** Names of the files finalized for this session, newest last. */
  readonly finished: Array<string> = []
  private nextIndex = 1

  constructor(id: string, request: PublishRequest, queue: Queue.Queue<SessionCommand, Cause.Done>) {
    this.id = id
    this.request = request
    this.queue = queue
  }

  allocateIndex(): number {
    return this.nextIndex++
  }

  get login(): string {
    return this.request.query.login ?? ""
  }

  view(settings: RecorderSettings): SessionView {
    return {
      mediaSessionId: this.id,
      name: this.request.streamName,
      status: this.status,
      protocol: this.request.protocol,
      recording: this.plan !== undefined,
      recordFile: this.currentFileName(settings) ?? null,
      tracks: this.tracks.map((track) => ({ kind: track.kind, codec: track.codec })),
      reason: this.reason
    }
  }

  /** The name of the fragment being written, its end tags still unrendered, as /recorder/find_all shows it. */
  currentFileName(settings: RecorderSettings): string | undefined {
    const fields: NameFields | undefined = this.recording?.currentFields
    if (this.plan === undefined || fields === undefined) return undefined
    return settings.fileName(this.plan.template, fields, this.recordingExtension)
  }
}

/** Resolves the REST overrides against the server settings. */
export const planRecording = (
  settings: RecorderSettings,
  overrides: RecordingOverrides
): RecordingPlan | InvalidRecordingConfig => {
  let rotation = settings.rotation
  if (overrides.rotation !== undefined) {
    const parsed = settings.parseRotation(overrides.rotation)
    if (typeof parsed === "string") return new InvalidRecordingConfig({ reason: `config.rotation: ${parsed}` })
    rotation = parsed
  }
  const template = overrides.fileTemplate ?? settings.template
  const templateError = settings.checkTemplate(template)
  if (templateError !== undefined) return new InvalidRecordingConfig({ reason: `config.fileTemplate: ${templateError}` })
  return { template, rotation }
}

/** The session's fiber: drains the queue until the publisher leaves, then closes the last fragment. */
export const runSession = Effect.fn("MediaSession.run")(function*(session: MediaSession, services: SessionServices) {
  const { settings } = services
  const scope = yield* Scope.make()
  const pending: Array<Effect.Effect<void>> = []
  const finalizing: Array<Fiber.Fiber<void>> = []
  const finalize = (fragment: ClosedFragment, template: string) =>
    pending.push(Effect.map(services.finalize(session, fragment, template), (fiber) => {
      finalizing.push(fiber)
    }))

  const closeRecording = () => {
    // Frames held while the recording waited for a second track are recorded with the tracks there are.
    if (session.recording === undefined && session.plan !== undefined && session.early.length > 0) {
      openRecordingWithEarly(session.plan)
    }
    session.early = []
    const recording = session.recording
    session.recording = undefined
    const plan = session.plan
    if (recording === undefined || plan === undefined) return
    for (const fragment of recording.close()) finalize(fragment, plan.template)
  }

  /** A frame failed to parse, mux or write: count it, and stop the recording once the budget is spent. */
  const onRecordingError = (message: string) => {
    const counted = record(session.budget ?? emptyErrorBudget(settings.errorBudget), services.nowMillis())
    session.budget = counted.budget
    const stream = session.request.streamName
    if (counted.exceeded) {
      session.reason = `recording stopped: ${errorBudgetReason(settings.errorBudget)}; last: ${message}`
      pending.push(Effect.logError(`recording of ${stream} (${session.id}) ${session.reason}`))
      stopRecording()
    } else {
      pending.push(Effect.logWarning(`recording of ${stream} (${session.id}): dropped a frame: ${message}`))
      session.recovery?.onError()
    }
  }

  const stopRecording = () => {
    closeRecording()
    session.plan = undefined
  }

  /** The session's audio transcoder; its frames are recorded as they come back (tracks are found by kind). */
  const transcoder = new SessionTranscoder({
    start: (input, target, onFrame, onError) => services.startTranscoder(input, target, onFrame, onError, scope),
    onFrame: (frame) => {
      const plan = session.plan
      const recording = session.recording
      if (plan === undefined || recording === undefined) return
      pushToRecording(recording, plan, recording.trackIndexOf("audio"), frame)
    },
    onError: (message) => onRecordingError(message),
    run: (effect) => pending.push(effect),
    fork: (effect) => pending.push(Effect.asVoid(Effect.forkIn(effect, scope)))
  })

  /**
   * Opens the recording, or returns false while it cannot be opened yet: a recording whose container cannot keep
   * the audio (Opus or G.711 into MP4, AAC into WebM) waits for its transcoder to start.
   */
  const openRecording = (plan: RecordingPlan): boolean => {
    const video = session.tracks.find((track) => track.kind === "video")
    const format = settings.formatFor(video?.codec)
    const audio = session.tracks.find((track): track is AudioTrack => track.kind === "audio")
    const audioPlan = transcoder.plan(audio, audio && audioTranscodeTarget(format.name, audio.codec))
    if (audioPlan === "wait") return false
    // A transcoder that failed leaves the audio out; the budget already counted it.
    const tracks: ReadonlyArray<Track> = audioPlan === "failed"
      ? session.tracks.filter((track) => track.kind !== "audio")
      : audioPlan === "as-is"
      ? session.tracks
      : session.tracks.map((track) => (track.kind === "audio" ? audioPlan : track))
    session.recordingExtension = format.extension
    session.recording = new Recording({
      streamName: session.request.streamName,
      mediaSessionId: session.id,
      sessionId: Buffer.from(session.id).toString("base64"),
      login: session.login,
      rotation: plan.rotation,
      audioBufferMax: settings.audioBufferMax,
      format,
      tmpPathFor: () => `${settings.tmpDir}/.${session.id}_${session.allocateIndex()}.${format.extension}.tmp`
    }, tracks.slice(), services.nowMillis)
    session.recovery = new ErrorRecovery({ hasVideo: video !== undefined })
    // The file starts at a keyframe; a publisher that can send one on request (WebRTC) is asked now.
    if (video !== undefined) session.request.requestKeyframe?.()
    return true
  }

  /** Records one frame of the session's track `trackIndex`, counting errors against the budget. */
  const pushToRecording = (recording: Recording, plan: RecordingPlan, trackIndex: number, frame: Frame) => {
    if (!session.recovery!.admit(frame)) return
    const error = recording.push(trackIndex, frame)
    if (recording.hasClosed) for (const fragment of recording.takeClosed()) finalize(fragment, plan.template)
    if (error === undefined) return
    if (error.code === "ENOSPC") {
      // A full disk stops the recording at once, like the disk guard; the file keeps what reached the disk.
      session.reason = NOT_ENOUGH_DISK_SPACE
      pending.push(Effect.logError(`${NOT_ENOUGH_DISK_SPACE}: recording of ${session.request.streamName} stopped`))
      return stopRecording()
    }
    onRecordingError(error.message)
  }

  const onFrame = (frame: Frame) => {
    const plan = session.plan
    if (plan === undefined && session.taps.size === 0) return
    const trackIndex = session.tracks.findIndex((track) => track.kind === frame.kind)
    const track = session.tracks[trackIndex]
    if (track === undefined) return
    const problem = frameProblem(track.codec, frame)
    if (problem !== undefined) {
      if (plan !== undefined) onRecordingError(`malformed ${track.codec} frame at dts ${frame.dts}: ${problem}`)
      return
    }
    for (const tap of session.taps.values()) tap.push(track, frame)
    if (plan === undefined) return
    if (session.recording === undefined) {
      if (session.tracks.length < 2) {
        const first = session.early[0]
        const waited = first === undefined ? 0 : frame.dts / track.timescale - first.dts / trackOf(first).timescale
        if (first === undefined || (first.kind === frame.kind && waited < TRACK_SETTLE_SECONDS)) {
          session.early.push(frame)
          return
        }
      }
      if (!openRecordingWithEarly(plan)) {
        // Held until the AAC transcoder is up (about a second), so the file still starts with the stream.
        if (session.early.length < EARLY_FRAMES_MAX) session.early.push(frame)
        return
      }
    }
    recordFrame(plan, frame)
  }

  /** Opens the recording and records the frames held while it waited for the other track. */
  const openRecordingWithEarly = (plan: RecordingPlan): boolean => {
    if (!openRecording(plan)) return false
    const early = session.early
    session.early = []
    for (const held of early) recordFrame(plan, held)
    return true
  }

  const trackOf = (frame: Frame): Track => session.tracks.find((track) => track.kind === frame.kind)!

  const recordFrame = (plan: RecordingPlan, frame: Frame) => {
    const recording = session.recording
    if (recording === undefined) return
    const trackIndex = recording.trackIndexOf(frame.kind)
    if (trackIndex < 0) return
    if (frame.kind === "audio" && transcoder.push(frame)) return
    pushToRecording(recording, plan, trackIndex, frame)
  }

  const onTrack = (track: Track) => {
    const index = session.tracks.findIndex((known) => known.kind === track.kind)
    const previous = index >= 0 ? session.tracks[index] : undefined
    if (index >= 0) session.tracks[index] = track
    else session.tracks.push(track)
    // A new codec configuration cannot continue in the open file: the next frames go to a new fragment.
    if (session.recording !== undefined && (previous === undefined || !sameTrack(previous, track))) closeRecording()
  }

  const handle = (command: SessionCommand): Effect.Effect<void> | undefined => {
    switch (command.kind) {
      case "video":
      case "audio":
        onFrame(command)
        return undefined
      case "track":
        onTrack(command.track)
        return undefined
      case "start": {
        const plan = planRecording(settings, command.overrides)
        if (plan instanceof InvalidRecordingConfig) return Deferred.fail(command.done, plan).pipe(Effect.asVoid)
        closeRecording()
        session.plan = plan
        session.reason = null
        session.budget = undefined
        // The new file starts at a keyframe; publishers that can send one on request are asked to.
        session.request.requestKeyframe?.()
        return Deferred.succeed(command.done, undefined).pipe(Effect.asVoid)
      }
      case "stop":
        if (command.reason !== undefined && session.plan !== undefined) {
          session.reason = command.reason
          pending.push(Effect.logError(`${command.reason}: recording of ${session.request.streamName} stopped`))
        }
        stopRecording()
        return command.done && Deferred.succeed(command.done, undefined).pipe(Effect.asVoid)
    }
  }

  const drain = Effect.gen(function*() {
    while (true) {
      const batch = yield* Queue.takeAll(session.queue)
      for (const command of batch) {
        const reply = handle(command)
        if (reply !== undefined) pending.push(reply)
      }
      if (pending.length > 0) yield* Effect.forEach(pending.splice(0), (effect) => effect, { discard: true })
    }
  })
  // However the drain ends (the publisher left, a bug threw, the server shuts down), what was recorded is
  // finalized: the tail runs uninterruptibly and waits for every fragment's file.
  const tail = transcoder.close.pipe(
    Effect.andThen(Effect.suspend(() => {
      closeRecording()
      return Effect.forEach(pending.splice(0), (effect) => effect, { discard: true })
    })),
    Effect.andThen(Effect.suspend(() => Fiber.awaitAll(finalizing))),
    Effect.andThen(Scope.close(scope, Exit.void))
  )
  yield* drain.pipe(Effect.catchIf(Cause.isDone, () => Effect.void), Effect.ensuring(tail))
})

const sameTrack = (a: Track, b: Track): boolean =>
  a.codec === b.codec && a.config.length === b.config.length && a.config.every((byte, i) => byte === b.config[i])
