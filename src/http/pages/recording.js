// The Stream Recording example (the manual's quick test): Start publishes camera and microphone with
// ?record=true, Stop ends the session, then the page asks the recorder for the finished file and shows it.
// The page's own ?videoCodec=VP8 or ?videoCodec=H264 publishes only that video codec (record_formats then picks
// the container); without it the server chooses among what the browser offers.
import { publish } from "/client/examples/whip-client.js"

const FINISHED_TIMEOUT_MS = 30_000
const FINISHED_POLL_MS = 1000

const $ = (id) => document.getElementById(id)
const nameInput = $("streamName")
const startButton = $("start")
const stopButton = $("stop")

nameInput.value = `stream-${Math.random().toString(36).slice(2, 8)}`
const videoCodec = new URLSearchParams(location.search).get("videoCodec") ?? undefined

let session
let camera

const setStatus = (state, error = "") => {
  $("status").textContent = state
  $("status").dataset.state = state
  $("error").textContent = error
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Asks /rest-api/recorder/finished until the session's file is there (newest first), for at most 30 s. */
const finishedFile = async (mediaSessionId) => {
  const deadline = Date.now() + FINISHED_TIMEOUT_MS
  let last = ""
  while (Date.now() < deadline) {
    const response = await fetch("/rest-api/recorder/finished", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ mediaSessionId })
    })
    if (response.ok) {
      const files = await response.json()
      if (files.length > 0) return files[0].fileName
    } else {
      last = `${response.status} ${await response.text()}`
    }
    await sleep(FINISHED_POLL_MS)
  }
  throw new Error(`no recording after ${FINISHED_TIMEOUT_MS / 1000} s ${last}`.trim())
}

const showRecording = (fileName) => {
  const url = `/client/records/${encodeURIComponent(fileName)}`
  $("download").href = url
  $("fileName").textContent = fileName
  $("playback").src = url
  $("result").hidden = false
}

startButton.addEventListener("click", async () => {
  startButton.disabled = true
  $("result").hidden = true
  setStatus("STARTING")
  try {
    camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: true })
    $("preview").srcObject = camera
    $("preview").hidden = false
    const endpoint = `/whip/${encodeURIComponent(nameInput.value)}?record=true`
    session = await publish(endpoint, camera, (state) => {
      if (state === "connected") setStatus("PUBLISHING")
      if (state === "failed") setStatus("FAILED", "the connection failed")
    }, { videoCodec })
    stopButton.disabled = false
  } catch (error) {
    camera?.getTracks().forEach((track) => track.stop())
    $("preview").hidden = true
    setStatus("FAILED", String(error.message ?? error))
    startButton.disabled = false
  }
})

stopButton.addEventListener("click", async () => {
  stopButton.disabled = true
  const { mediaSessionId } = session
  try {
    await session.stop()
    camera.getTracks().forEach((track) => track.stop())
    $("preview").srcObject = null
    $("preview").hidden = true
    setStatus("UNPUBLISHED", "waiting for the recording...")
    showRecording(await finishedFile(mediaSessionId))
    setStatus("UNPUBLISHED")
  } catch (error) {
    setStatus("UNPUBLISHED", String(error.message ?? error))
  } finally {
    startButton.disabled = false
  }
})

// Closing or leaving the tab ends the session cleanly instead of leaving the server to time it out.
addEventListener("pagehide", () => {
  if (!stopButton.disabled) session?.leave()
})
