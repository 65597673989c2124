// A minimal WHIP publisher (RFC 9725) for the example pages: one POST of the whole offer (no trickle ICE), the
// answer applied, and a DELETE of the session's resource URL to stop.

/** Resolves once the peer connection has gathered its candidates, or after `timeoutMs`. */
const gathered = (pc, timeoutMs) =>
  new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve()
    const timer = setTimeout(resolve, timeoutMs)
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState !== "complete") return
      clearTimeout(timer)
      resolve()
    })
  })

/** The server's reason for a refused publish: `{ error, reason }` JSON, or the status line. */
const refusal = async (response) => {
  const text = await response.text()
  try {
    const body = JSON.parse(text)
    return `${response.status} ${body.error}: ${body.reason}`
  } catch {
    return `${response.status} ${response.statusText} ${text}`.trim()
  }
}

/**
 * The codec preferences that offer only `videoCodec` ("VP8", "H264") and its retransmissions (RTX), so that the
 * server cannot answer with another video codec. Throws when the browser cannot use that codec.
 */
const videoCodecPreferences = (videoCodec) => {
  const mimeType = `video/${videoCodec}`.toLowerCase()
  const codecs = RTCRtpReceiver.getCapabilities("video")?.codecs ?? []
  const chosen = codecs.filter((codec) => codec.mimeType.toLowerCase() === mimeType)
  if (chosen.length === 0) throw new Error(`this browser cannot send ${videoCodec} video`)
  return [...chosen, ...codecs.filter((codec) => codec.mimeType.toLowerCase() === "video/rtx")]
}

/**
 * Publishes `stream` to `endpoint` (e.g. "/whip/cam1?record=true"). Resolves with the session: its resource URL,
 * the server's mediaSessionId, the peer connection, `stop()`, and `leave()` for a page that is going away.
 * `onState` gets the connection state changes. `options.videoCodec` ("VP8", "H264") offers only that video codec;
 * without it the browser offers all it has and the server picks.
 */
export async function publish(endpoint, stream, onState = () => {}, options = {}) {
  const videoCodecs = options.videoCodec ? videoCodecPreferences(options.videoCodec) : undefined
  const pc = new RTCPeerConnection()
  pc.addEventListener("connectionstatechange", () => onState(pc.connectionState))
  for (const track of stream.getTracks()) {
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] })
    if (track.kind === "video" && videoCodecs !== undefined) transceiver.setCodecPreferences(videoCodecs)
  }
  await pc.setLocalDescription(await pc.createOffer())
  await gathered(pc, 5000)
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/sdp" },
    body: pc.localDescription.sdp
  })
  if (response.status !== 201) {
    pc.close()
    throw new Error(await refusal(response))
  }
  const resource = new URL(response.headers.get("Location"), new URL(endpoint, location.href)).href
  const mediaSessionId = response.headers.get("X-Media-Session-Id")
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() })
  const stop = async () => {
    try {
      await fetch(resource, { method: "DELETE" })
    } finally {
      pc.close()
    }
  }
  // For a page being closed: a keepalive request outlives the page, and close() sends DTLS close_notify.
  const leave = () => {
    fetch(resource, { method: "DELETE", keepalive: true }).catch(() => {})
    pc.close()
  }
  return { resource, mediaSessionId, pc, stop, leave }
}
