/**
 * One recording of one media session: the keyframe gate, the container writer and the rotator. It is
 * driven synchronously frame by frame by the session actor; closed fragments are handed back to be
 * finalized off the hot path.
 */
import type { Frame, Track } from "../media/frame.ts"
import { codecTag } from "../media/frame.ts"
import type { ContainerFormat, ContainerWriter } from "./container-format.ts"
import { ContainerWriteError } from "./container-format.ts"
import { KeyframeGate } from "./keyframe-gate.ts"
import type { Rotation } from "./rotation-policy.ts"
import { shouldRotate } from "./rotation-policy.ts"

/** What a file name is rendered from; fields unknown while a fragment is open are undefined. */
export interface NameFields {
  readonly streamName: string
  readonly mediaSessionId: string
  readonly sessionId: string
  readonly login: string
  readonly videoCodec: string
  readonly audioCodec: string
  /** Frame-clock times in milliseconds. */
  readonly startTime: number
  readonly endTime: number | undefined
  readonly durationMillis: number | undefined
  /** Server-clock times in milliseconds since the epoch. */
  readonly startTimeMillis: number
  readonly endTimeMillis: number | undefined
  /** The rotation index (1, 2, ...) of this fragment. */
  readonly index: number
  /** Whether the recording rotates; the index suffix is only added when it does. */
  readonly rotating: boolean
}

export interface RecordingSpec {
  readonly streamName: string
  readonly mediaSessionId: string
  readonly sessionId: string
  readonly login: string
  readonly rotation: Rotation
  readonly audioBufferMax: number
  readonly format: ContainerFormat
  /** Where fragment number `index` writes its temporary data. */
  readonly tmpPathFor: (index: number) => string
}

/** A fragment that stopped receiving frames and waits to be finalized. */
export interface ClosedFragment {
  readonly writer: ContainerWriter
  /** The container's file extension, without the dot. */
  readonly extension: string
  readonly fields: NameFields
  readonly frames: number
}

interface OpenFragment {
  readonly writer: ContainerWriter
  readonly index: number
  readonly startSeconds: number
  readonly startTimeMillis: number
  endSeconds: number
  frames: number
  cutPointBytes: number
  lastGopBytes: number
}

export class Recording {
  private readonly spec: RecordingSpec
  private readonly tracks: ReadonlyArray<Track>
  private readonly gate: KeyframeGate
  private readonly hasVideo: boolean
  private readonly nowMillis: () => number
  private fragment: OpenFragment | undefined
  private nextIndex = 1
  /** A cut forced by a full reserved header happened, so fragments need their index to keep distinct names. */
  private rotatedByHeader = false
  /** Fragments closed by rotation that the caller has not taken yet. */
  private closed: Array<ClosedFragment> = []

  constructor(spec: RecordingSpec, tracks: ReadonlyArray<Track>, nowMillis: () => number) {
    this.spec = spec
    this.tracks = tracks
    this.nowMillis = nowMillis
    this.hasVideo = tracks.some((track) => track.kind === "video")
    this.gate = new KeyframeGate({ hasVideo: this.hasVideo, audioBufferMax: spec.audioBufferMax })
  }

  /** The fields of the fragment being written, with its end still unknown, or undefined before the first keyframe. */
  get currentFields(): NameFields | undefined {
    return this.fragment && this.fieldsOf(this.fragment, undefined)
  }

  /** Where frames of `kind` go in this recording's tracks (its own order, which may leave a kind out), or -1. */
  trackIndexOf(kind: Track["kind"]): number {
    return this.tracks.findIndex((track) => track.kind === kind)
  }

  get started(): boolean {
    return this.gate.isOpen
  }

  /**
   * Records one frame; returns the write error that made it fail, if any. Fragments closed by a rotation
   * wait in `takeClosed()`, also when the frame itself then failed.
   */
  push(trackIndex: number, frame: Frame): ContainerWriteError | undefined {
    const track = this.tracks[trackIndex]
    if (track === undefined) return undefined
    const released = this.gate.step({ trackIndex, frame, seconds: frame.dts / track.timescale })
    for (const input of released) {
      const canCut = !this.hasVideo || (input.frame.kind === "video" && input.frame.keyframe)
      let fragment = this.fragment
      if (fragment !== undefined && canCut) {
        fragment.lastGopBytes = fragment.writer.bytesWritten() - fragment.cutPointBytes
        fragment.cutPointBytes = fragment.writer.bytesWritten()
        const progress = {
          startSeconds: fragment.startSeconds,
          nowSeconds: input.seconds,
          bytes: fragment.cutPointBytes,
          lastGopBytes: fragment.lastGopBytes
        }
        // A reserved moov about to overflow forces a cut too ("rotation by MP4 header filling").
        const headerFull = fragment.writer.headerFull?.() === true
        if (headerFull) this.rotatedByHeader = true
        if (headerFull || shouldRotate(this.spec.rotation, progress)) {
          this.fragment = undefined
          this.closed.push(this.closeFragment(fragment, input.seconds))
          fragment = undefined
        }
      }
      if (fragment === undefined) {
        const opened = this.openFragment(input.seconds)
        if (opened instanceof ContainerWriteError) return opened
        fragment = opened
      }
      const error = fragment.writer.push(input.trackIndex, input.frame)
      if (error !== undefined) return error
      fragment.frames++
      if (input.seconds > fragment.endSeconds) fragment.endSeconds = input.seconds
    }
    return undefined
  }

  get hasClosed(): boolean {
    return this.closed.length > 0
  }

  /** The fragments closed by rotation since the last call, to finalize. */
  takeClosed(): ReadonlyArray<ClosedFragment> {
    const closed = this.closed
    this.closed = []
    return closed
  }

  /** Ends the recording; returns every fragment still to finalize, the last one included. */
  close(): ReadonlyArray<ClosedFragment> {
    const closed = this.takeClosed()
    const fragment = this.fragment
    if (fragment === undefined) return closed
    this.fragment = undefined
    return [...closed, this.closeFragment(fragment, undefined)]
  }

  private openFragment(seconds: number): OpenFragment | ContainerWriteError {
    const index = this.nextIndex
    const writer = this.spec.format.open({
      tmpPath: this.spec.tmpPathFor(index),
      tracks: this.tracks,
      creationTime: new Date(this.nowMillis()),
      streamName: this.spec.streamName
    })
    if (writer instanceof ContainerWriteError) return writer
    this.nextIndex++
    this.fragment = {
      writer,
      index,
      startSeconds: seconds,
      startTimeMillis: this.nowMillis(),
      endSeconds: seconds,
      frames: 0,
      cutPointBytes: 0,
      lastGopBytes: 0
    }
    return this.fragment
  }

  private closeFragment(fragment: OpenFragment, nextStartSeconds: number | undefined): ClosedFragment {
    // A fragment ends where the next one starts; the last one ends at its last frame.
    const endSeconds = nextStartSeconds ?? fragment.endSeconds
    return {
      writer: fragment.writer,
      extension: this.spec.format.extension,
      frames: fragment.frames,
      fields: this.fieldsOf(fragment, endSeconds)
    }
  }

  private fieldsOf(fragment: OpenFragment, endSeconds: number | undefined): NameFields {
    const video = this.tracks.find((track) => track.kind === "video")
    const audio = this.tracks.find((track) => track.kind === "audio")
    const startTime = Math.round(fragment.startSeconds * 1000)
    const endTime = endSeconds === undefined ? undefined : Math.round(endSeconds * 1000)
    return {
      streamName: this.spec.streamName,
      mediaSessionId: this.spec.mediaSessionId,
      sessionId: this.spec.sessionId,
      login: this.spec.login,
      videoCodec: video ? codecTag(video.codec) : "",
      audioCodec: audio ? codecTag(audio.codec) : "",
      startTime,
      endTime,
      durationMillis: endTime === undefined ? undefined : endTime - startTime,
      startTimeMillis: fragment.startTimeMillis,
      endTimeMillis: endSeconds === undefined ? undefined : this.nowMillis(),
      index: fragment.index,
      rotating: this.spec.rotation._tag !== "Disabled" || this.rotatedByHeader
    }
  }
}
