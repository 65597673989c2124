/**
 * Asks a WebRTC video sender for a key frame: a Picture Loss Indication (RFC 4585 6.3.1) on loss and while a
 * decodable start is awaited, plus a Full Intra Request (RFC 5104 4.3.1) when the session or the periodic timer asks
 * and the peer negotiated `ccm fir`. Requests are spaced so a burst of losses sends one, not hundreds.
 */

export type KeyframeReason = "loss" | "waiting" | "session" | "periodic"

export interface KeyframeTransport {
  readonly sendPli: () => void
  /** Undefined when `ccm fir` was not negotiated. */
  readonly sendFir: ((sequenceNumber: number) => void) | undefined
}

export interface KeyframeStats {
  pli: number
  fir: number
  /** Requests left out because one had just been sent. */
  spaced: number
}

export class KeyframeRequests {
  readonly minIntervalMs: number
  readonly stats: KeyframeStats = { pli: 0, fir: 0, spaced: 0 }
  readonly #transport: KeyframeTransport
  #lastSentMs = -Infinity
  /** RFC 5104 4.3.1.1: the FIR command sequence number, increased by one for every new request (mod 256). */
  #firSequence = 0

  constructor(transport: KeyframeTransport, minIntervalMs = 500) {
    this.#transport = transport
    this.minIntervalMs = minIntervalMs
  }

  /** Sends a request unless one went out less than `minIntervalMs` ago; returns whether it sent. */
  request(reason: KeyframeReason, nowMs: number): boolean {
    if (nowMs - this.#lastSentMs < this.minIntervalMs) {
      this.stats.spaced++
      return false
    }
    this.#lastSentMs = nowMs
    this.#transport.sendPli()
    this.stats.pli++
    const sendFir = this.#transport.sendFir
    if (sendFir !== undefined && (reason === "session" || reason === "periodic")) {
      this.#firSequence = (this.#firSequence + 1) % 256
      sendFir(this.#firSequence)
      this.stats.fir++
    }
    return true
  }
}
