/**
 * The parts of an SDP session description (RFC 4566) that an RTSP pull needs: the media (`m=`, 5.14) with their
 * payload types, `a=rtpmap` (6), `a=fmtp` parameters and `a=control` (RFC 2326 C.1.1), session-level and per media.
 * Lenient like the cameras that write it: lines it does not understand are skipped.
 */

export interface Rtpmap {
  /** As written, e.g. "H264", "MPEG4-GENERIC", "PCMA". Compare case-insensitively. */
  readonly encoding: string
  readonly clockRate: number
  readonly channels: number | undefined
}

export interface SdpMedia {
  /** "video", "audio", "application", ... */
  readonly type: string
  readonly port: number
  /** "RTP/AVP", "RTP/AVPF", ... */
  readonly protocol: string
  readonly payloadTypes: ReadonlyArray<number>
  readonly control: string | undefined
  readonly rtpmap: ReadonlyMap<number, Rtpmap>
  /** Format parameters per payload type, names lower-cased (RFC 3640 4.1: they are case-insensitive). */
  readonly fmtp: ReadonlyMap<number, ReadonlyMap<string, string>>
}

export interface SessionDescription {
  readonly name: string
  /** The session-level control URL (`*` or absent means the aggregate is the base URL). */
  readonly control: string | undefined
  readonly media: ReadonlyArray<SdpMedia>
}

/**
 * Static payload types a camera may use without an rtpmap (RFC 3551 6, Table 4). G.722's clock is 8000 Hz although
 * it samples at 16 kHz (4.5.2: an error of RFC 1890 kept for compatibility).
 */
const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, Rtpmap> = new Map([
  [0, { encoding: "PCMU", clockRate: 8000, channels: 1 }],
  [8, { encoding: "PCMA", clockRate: 8000, channels: 1 }],
  [9, { encoding: "G722", clockRate: 8000, channels: 1 }],
  [14, { encoding: "MPA", clockRate: 90000, channels: undefined }],
  [26, { encoding: "JPEG", clockRate: 90000, channels: undefined }]
])

/** `a=fmtp:<pt> key=value;key=value` parameters; values keep any `=` of their own (base64). */
export const parseFmtpParameters = (text: string): Map<string, string> => {
  const parameters = new Map<string, string>()
  for (const part of text.split(";")) {
    const item = part.trim()
    if (item === "") continue
    const equals = item.indexOf("=")
    if (equals < 0) parameters.set(item.toLowerCase(), "")
    else parameters.set(item.slice(0, equals).trim().toLowerCase(), item.slice(equals + 1).trim())
  }
  return parameters
}

const parseRtpmap = (text: string): [number, Rtpmap] | undefined => {
  const match = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(text)
  if (match === null) return undefined
  const channels = match[4] === undefined ? undefined : Number(match[4])
  return [Number(match[1]), { encoding: match[2]!, clockRate: Number(match[3]), channels }]
}

interface MediaDraft {
  type: string
  port: number
  protocol: string
  payloadTypes: Array<number>
  control: string | undefined
  rtpmap: Map<number, Rtpmap>
  fmtp: Map<number, Map<string, string>>
}

const finish = (draft: MediaDraft): SdpMedia => {
  for (const payloadType of draft.payloadTypes) {
    const fallback = STATIC_PAYLOAD_TYPES.get(payloadType)
    if (!draft.rtpmap.has(payloadType) && fallback !== undefined) draft.rtpmap.set(payloadType, fallback)
  }
  return draft
}

export const parseSdp = (text: string): SessionDescription => {
  let name = ""
  let sessionControl: string | undefined
  const media: Array<SdpMedia> = []
  let current: MediaDraft | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line.length < 2 || line[1] !== "=") continue
    const value = line.slice(2)
    switch (line[0]) {
      case "s":
        if (current === undefined) name = value
        break
      case "m": {
        if (current !== undefined) media.push(finish(current))
        const [type = "", port = "", protocol = "", ...formats] = value.split(/\s+/)
        current = {
          type: type.toLowerCase(),
          port: Number.parseInt(port, 10) || 0,
          protocol,
          payloadTypes: formats.map(Number).filter((pt) => Number.isInteger(pt) && pt >= 0 && pt < 128),
          control: undefined,
          rtpmap: new Map(),
          fmtp: new Map()
        }
        break
      }
      case "a": {
        const colon = value.indexOf(":")
        const attribute = (colon < 0 ? value : value.slice(0, colon)).toLowerCase()
        const content = colon < 0 ? "" : value.slice(colon + 1).trim()
        if (attribute === "control") {
          if (current === undefined) sessionControl = content
          else current.control = content
        } else if (attribute === "rtpmap" && current !== undefined) {
          const entry = parseRtpmap(content)
          if (entry !== undefined) current.rtpmap.set(entry[0], entry[1])
        } else if (attribute === "fmtp" && current !== undefined) {
          const match = /^(\d+)\s*(.*)$/.exec(content)
          if (match !== null) current.fmtp.set(Number(match[1]), parseFmtpParameters(match[2]!))
        }
        break
      }
    }
  }
  if (current !== undefined) media.push(finish(current))
  return { name, control: sessionControl, media }
}
