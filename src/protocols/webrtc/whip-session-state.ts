/**
 * What one WHIP session is and shows: its settings, the offer it answers, how it ended, and the live state the
 * runner (whip-session.ts) and werift's callbacks update and `WhipIngest.list` reads.
 */
import { Deferred, Effect } from "effect"
import type { TrackKind } from "../../media/frame.ts"
import type { Alignment, AvSync } from "./av-sync.ts"
import type { PeerOptions } from "./peer-connection.ts"
import type { RemoteTracks } from "./remote-tracks.ts"

export interface WhipSessionSettings extends PeerOptions {
  /** ICE and DTLS must connect within this long after the answer. */
  readonly connectTimeoutMs: number
  /** A connection that stays disconnected this long has failed. */
  readonly disconnectTimeoutMs: number
  /** A connected session without RTP for this long has failed. */
  readonly idleTimeoutMs: number
  /** periodic_fir_request: ask for a key frame every `firPeriodMs`. */
  readonly periodicFirRequest: boolean
  readonly firPeriodMs: number
  /** How long the first frames wait for every track and sender report (av-sync.ts). */
  readonly syncHoldMs: number
}

export interface WhipOffer {
  readonly resourceId: string
  readonly streamName: string
  readonly sdp: string
  readonly record: boolean
  readonly query: Readonly<Record<string, string>>
  readonly remoteAddress: string
}

export interface WhipAnswer {
  readonly sdp: string
  readonly mediaSessionId: string
}

export interface EndReason {
  readonly failed: boolean
  readonly message: string
}

export interface WhipTrackView {
  readonly kind: TrackKind
  readonly codec: string
  readonly packets: number
  readonly frames: number
  readonly malformed: number
  readonly lost: number
  readonly late: number
  readonly brokenFrames: number
  readonly pli: number
  readonly fir: number
}

export interface WhipSessionView {
  readonly resourceId: string
  readonly streamName: string
  readonly mediaSessionId: string | undefined
  readonly remoteAddress: string
  readonly connectionState: string
  readonly alignment: Alignment | undefined
  readonly tracks: ReadonlyArray<WhipTrackView>
  /** Packets and frames dropped as malformed, all tracks together. */
  readonly problems: number
}


export class WhipSession {
  readonly offer: WhipOffer
  readonly ended = Deferred.makeUnsafe<EndReason>()
  endReason: EndReason | undefined
  mediaSessionId: string | undefined
  connectionState = "new"
  connectedAtMs: number | undefined
  disconnectedAtMs: number | undefined
  tracks: RemoteTracks | undefined
  sync: AvSync | undefined
  problems = 0
  lastProblem = ""

  constructor(offer: WhipOffer) {
    this.offer = offer
  }

  /** Ends the session; the first reason given is the one it ends with. */
  end(reason: EndReason): void {
    if (this.endReason !== undefined) return
    this.endReason = reason
    Deferred.doneUnsafe(this.ended, Effect.succeed(reason))
  }

  problem(reason: string): void {
    this.problems++
    this.lastProblem = reason
  }

  view(): WhipSessionView {
    const tracks = Array.from(this.tracks?.attached.values() ?? [], ({ receiver, keyframes }): WhipTrackView => ({
      kind: receiver.kind,
      codec: receiver.spec.codec,
      packets: receiver.stats.packets,
      frames: receiver.stats.frames,
      malformed: receiver.stats.malformed,
      lost: receiver.reorder.stats.lost,
      late: receiver.reorder.stats.late,
      brokenFrames: receiver.assembler?.stats.broken ?? 0,
      pli: keyframes?.stats.pli ?? 0,
      fir: keyframes?.stats.fir ?? 0
    }))
    return {
      resourceId: this.offer.resourceId,
      streamName: this.offer.streamName,
      mediaSessionId: this.mediaSessionId,
      remoteAddress: this.offer.remoteAddress,
      connectionState: this.connectionState,
      alignment: this.sync?.alignment,
      tracks,
      problems: this.problems
    }
  }
}
