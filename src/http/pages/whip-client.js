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
 * Publishes `stream` to `endpoint` (e.g. "/whip/cam1?record=true"). Resolves with the session: its resource URL,
 * the server's mediaSessionId, the peer connection, `stop()`, and `leave()` for a page that is going away.
 * `onState` gets the connection state changes.
 */
export async function publish(endpoint, stream, onState = () => {}) {
  const pc = new RTCPeerConnection()
  pc.addEventListener("connectionstatechange", () => onState(pc.connectionState))
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] })
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
