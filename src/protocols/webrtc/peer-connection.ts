/**
 * werift peer connections as the WHIP ingest configures them: the receive codecs, host candidates only (no STUN or
 * TURN server is contacted), extra host addresses such as 127.0.0.1 that werift's gathering skips, an optional
 * UDP port range, and optionally nothing but the listed addresses, in the answer and in connectivity checks.
 */
import type { PeerConfig } from "werift"
import { RTCPeerConnection, useSdesMid, useTransportWideCC } from "werift"
import { receiveCodecs } from "./ingest-codecs.ts"

export interface PeerOptions {
  /** Host addresses advertised besides the machine's own (webrtc_ice_host_addresses), e.g. ["127.0.0.1"]. */
  readonly iceHostAddresses: ReadonlyArray<string>
  /** Advertise and use only `iceHostAddresses` (webrtc_ice_host_addresses_only). */
  readonly iceHostAddressesOnly: boolean
  /** The UDP ports ICE may bind (webrtc_port_range=min-max); any when undefined. */
  readonly portRange: readonly [number, number] | undefined
}

/** Whether the ingest may advertise or talk to `address`. */
export const allowedAddress = (options: PeerOptions) => (address: string): boolean =>
  !options.iceHostAddressesOnly || options.iceHostAddresses.includes(address)

export const peerConfig = (options: PeerOptions): Partial<PeerConfig> => {
  const allowed = allowedAddress(options)
  return {
    codecs: receiveCodecs(),
    headerExtensions: { video: [useSdesMid(), useTransportWideCC()], audio: [useSdesMid(), useTransportWideCC()] },
    // Host candidates only: werift's default STUN server would reach out to the internet.
    iceServers: [],
    iceAdditionalHostAddresses: options.iceHostAddresses.length > 0 ? [...options.iceHostAddresses] : undefined,
    icePortRange: options.portRange === undefined ? undefined : [options.portRange[0], options.portRange[1]],
    ...(options.iceHostAddressesOnly
      ? {
        iceFilterCandidatePair: (pair) => allowed(pair.localCandidate.host) && allowed(pair.remoteCandidate.host),
        iceFilterStunResponse: (_message, address) => allowed(address[0])
      }
      : {})
  }
}

export const createPeer = (options: PeerOptions): RTCPeerConnection => new RTCPeerConnection(peerConfig(options))

/** Resolves once the peer gathered all its candidates (the answer is sent whole: no trickle ICE). */
export const gatheringComplete = (peer: RTCPeerConnection): Promise<void> =>
  new Promise((resolve) => {
    if (peer.iceGatheringState === "complete") return resolve()
    const { unSubscribe } = peer.iceGatheringStateChange.subscribe((state) => {
      if (state !== "complete") return
      unSubscribe()
      resolve()
    })
  })
