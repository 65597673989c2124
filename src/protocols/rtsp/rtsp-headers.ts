/**
 * The structured RTSP headers a pull reads and writes: Transport (RFC 2326 12.39), Session with its timeout (12.37),
 * RTP-Info (12.33) and Public (12.28).
 */

export interface TransportHeader {
  /** "RTP/AVP" (UDP), "RTP/AVP/TCP", ... */
  readonly protocol: string
  readonly interleaved: readonly [number, number] | undefined
  readonly clientPort: readonly [number, number] | undefined
  readonly serverPort: readonly [number, number] | undefined
  readonly source: string | undefined
  readonly ssrc: number | undefined
}

/** RTP over the RTSP connection on channels `channel` (RTP) and `channel + 1` (RTCP). */
export const tcpTransport = (channel: number): string => `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}`

/** RTP over UDP to our `rtpPort` (even) and RTCP to `rtpPort + 1`. */
export const udpTransport = (rtpPort: number): string => `RTP/AVP;unicast;client_port=${rtpPort}-${rtpPort + 1}`

const range = (value: string | undefined): readonly [number, number] | undefined => {
  if (value === undefined) return undefined
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim())
  if (match === null) return undefined
  const first = Number(match[1])
  return [first, match[2] === undefined ? first + 1 : Number(match[2])]
}

/** The first transport of a Transport header (a server answers with the one it chose). */
export const parseTransport = (value: string): TransportHeader => {
  const [spec = "", ...parameters] = value.split(",")[0]!.split(";").map((part) => part.trim())
  const named = new Map<string, string>()
  for (const parameter of parameters) {
    const equals = parameter.indexOf("=")
    if (equals < 0) named.set(parameter.toLowerCase(), "")
    else named.set(parameter.slice(0, equals).toLowerCase(), parameter.slice(equals + 1).replace(/^"|"$/g, ""))
  }
  const ssrc = named.get("ssrc")
  return {
    protocol: spec.toUpperCase(),
    interleaved: range(named.get("interleaved")),
    clientPort: range(named.get("client_port")),
    serverPort: range(named.get("server_port")),
    source: named.get("source"),
    ssrc: ssrc !== undefined && /^[0-9a-f]{1,8}$/i.test(ssrc) ? Number.parseInt(ssrc, 16) : undefined
  }
}

export interface SessionHeader {
  readonly id: string
  /** Seconds the server keeps the session without a request (default 60). */
  readonly timeoutSeconds: number
}

/** RFC 2326 12.37: the session times out after 60 seconds unless the header says otherwise. */
export const DEFAULT_SESSION_TIMEOUT_SECONDS = 60

export const parseSession = (value: string): SessionHeader => {
  const [id = "", ...parameters] = value.split(";").map((part) => part.trim())
  const timeout = parameters.map((p) => /^timeout\s*=\s*(\d+)$/i.exec(p)).find((m) => m !== null)
  const seconds = timeout === undefined ? DEFAULT_SESSION_TIMEOUT_SECONDS : Number(timeout[1])
  return { id, timeoutSeconds: seconds > 0 ? seconds : DEFAULT_SESSION_TIMEOUT_SECONDS }
}

export interface RtpInfo {
  readonly url: string
  readonly seq: number | undefined
  /** The RTP timestamp that corresponds to the Range start of the PLAY, for every stream alike: the sync point. */
  readonly rtptime: number | undefined
}

/** `url=...;seq=...;rtptime=..., url=...`; commas inside URLs are left alone by splitting only before `url=`. */
export const parseRtpInfo = (value: string): Array<RtpInfo> =>
  value.split(/,\s*(?=url=)/i).map((entry) => {
    const fields = new Map<string, string>()
    for (const part of entry.split(";")) {
      const equals = part.indexOf("=")
      if (equals > 0) fields.set(part.slice(0, equals).trim().toLowerCase(), part.slice(equals + 1).trim())
    }
    const number = (name: string) => {
      const text = fields.get(name)
      return text !== undefined && /^\d+$/.test(text) ? Number(text) >>> 0 : undefined
    }
    return { url: fields.get("url") ?? "", seq: number("seq"), rtptime: number("rtptime") }
  }).filter((info) => info.url !== "")

/** The methods of a Public header, upper-cased. */
export const parsePublic = (value: string): Set<string> =>
  new Set(value.split(",").map((method) => method.trim().toUpperCase()).filter((method) => method !== ""))
