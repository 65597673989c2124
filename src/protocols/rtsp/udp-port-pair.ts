/**
 * The client side of RTP over UDP (RFC 2326 12.39 client_port): an even RTP port and the RTCP port above it, bound
 * for one media of one connection and closed with its scope. Datagrams go synchronously to the handlers; only the
 * camera's address is listened to.
 */
import * as dgram from "node:dgram"
import * as net from "node:net"
import { Effect, Random } from "effect"
import { CameraError } from "./rtsp-errors.ts"

export interface UdpPortPair {
  readonly rtpPort: number
  readonly rtcpPort: number
  /** Starts delivering datagrams from `source` (the camera's IP address); others are reported and dropped. */
  readonly listen: (handlers: {
    readonly source: string
    readonly rtp: (data: Uint8Array) => void
    readonly rtcp: (data: Uint8Array) => void
    readonly problem: (problem: string) => void
  }) => void
}

export interface UdpPortOptions {
  /** The local address to bind ("0.0.0.0" for every interface). */
  readonly address: string
  /** Inclusive range the even RTP port is picked from. */
  readonly portRange: readonly [number, number]
}

/** Attempts at a random even port before giving up (ports taken by others are skipped). */
const ATTEMPTS = 20

const bind = (address: string, port: number): Effect.Effect<dgram.Socket | undefined> =>
  Effect.callback<dgram.Socket | undefined>((resume) => {
    const socket = dgram.createSocket({ type: net.isIPv6(address) ? "udp6" : "udp4" })
    socket.once("error", () => {
      socket.close()
      resume(Effect.succeed(undefined))
    })
    socket.bind(port, address, () => {
      socket.removeAllListeners("error")
      // Errors after binding (ICMP port unreachable on a send we never make) must not crash the process.
      socket.on("error", () => {})
      resume(Effect.succeed(socket))
    })
  })

const close = (socket: dgram.Socket) => Effect.sync(() => socket.close())

/** IPv4-mapped IPv6 and plain IPv4 name the same camera. */
const sameHost = (a: string, b: string): boolean => a.replace(/^::ffff:/, "") === b.replace(/^::ffff:/, "")

export const bindUdpPortPair = Effect.fn("UdpPortPair.bind")(function*(options: UdpPortOptions) {
  const [low, high] = options.portRange
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const evenSlots = Math.max(1, Math.floor((high - low) / 2))
    const rtpPort = (low + (low % 2)) + 2 * (yield* Random.nextIntBetween(0, evenSlots - 1))
    const rtp = yield* Effect.acquireRelease(bind(options.address, rtpPort), (s) => (s ? close(s) : Effect.void))
    if (rtp === undefined) continue
    const rtcp = yield* Effect.acquireRelease(bind(options.address, rtpPort + 1), (s) => (s ? close(s) : Effect.void))
    if (rtcp === undefined) continue
    const pair: UdpPortPair = {
      rtpPort,
      rtcpPort: rtpPort + 1,
      listen: (handlers) => {
        // A socket callback that threw would take the process down: a bug here costs one packet, not every pull.
        const deliver = (handler: (data: Uint8Array) => void) => (message: Buffer, from: dgram.RemoteInfo) => {
          if (!sameHost(from.address, handlers.source)) {
            return handlers.problem(`a datagram from ${from.address}, not the camera`)
          }
          try {
            handler(message)
          } catch (error) {
            handlers.problem(`internal error on a datagram: ${String(error)}`)
          }
        }
        rtp.on("message", deliver(handlers.rtp))
        rtcp.on("message", deliver(handlers.rtcp))
      }
    }
    return pair
  }
  return yield* new CameraError({
    kind: "Protocol",
    reason: `no free UDP port pair in ${low}-${high} on ${options.address}`
  })
})
