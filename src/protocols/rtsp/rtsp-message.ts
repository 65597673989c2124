/**
 * RTSP 1.0 messages (RFC 2326 6 and 7): the requests the pull sends, serialized, and the responses (and the rare
 * server-to-client requests) it reads back, with their headers kept in order and looked up case-insensitively.
 */

export type RtspHeaders = ReadonlyArray<readonly [name: string, value: string]>

export interface RtspRequest {
  readonly method: string
  readonly uri: string
  readonly headers: RtspHeaders
  readonly body?: Uint8Array | undefined
}

export interface RtspResponse {
  readonly status: number
  readonly reason: string
  readonly headers: RtspHeaders
  readonly body: Uint8Array
}

export const RTSP_VERSION = "RTSP/1.0"

/** The first value of header `name` (case-insensitive), or undefined. */
export const headerValue = (headers: RtspHeaders, name: string): string | undefined => {
  const wanted = name.toLowerCase()
  for (const [key, value] of headers) if (key.toLowerCase() === wanted) return value
  return undefined
}

/** Every value of header `name`, in order (e.g. several WWW-Authenticate challenges). */
export const headerValues = (headers: RtspHeaders, name: string): Array<string> => {
  const wanted = name.toLowerCase()
  return headers.filter(([key]) => key.toLowerCase() === wanted).map(([, value]) => value)
}

const oneLine = (text: string): string => text.replace(/[\r\n]/g, "")

/**
 * `Method SP Request-URI SP RTSP-Version CRLF`, the headers, an empty line, then the body (RFC 2326 6). A body gets
 * its Content-Length. Line breaks are removed from every field: they would smuggle in headers of their own.
 */
export const serializeRequest = (request: RtspRequest): Uint8Array => {
  const lines = [`${oneLine(request.method)} ${oneLine(request.uri)} ${RTSP_VERSION}`]
  for (const [name, value] of request.headers) lines.push(`${oneLine(name)}: ${oneLine(value)}`)
  const body = request.body ?? new Uint8Array(0)
  if (body.length > 0) lines.push(`Content-Length: ${body.length}`)
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1")
  return body.length === 0 ? head : Buffer.concat([head, body])
}

/** `RTSP/1.0 200 OK` etc., as written by servers and read by tests that play a server. */
export const serializeResponse = (response: RtspResponse): Uint8Array => {
  const lines = [`${RTSP_VERSION} ${response.status} ${response.reason}`]
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`)
  if (response.body.length > 0) lines.push(`Content-Length: ${response.body.length}`)
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), response.body])
}

/** `$`, channel, 16-bit length, then the packet (RFC 2326 10.12). */
export const serializeInterleaved = (channel: number, packet: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + packet.length)
  out[0] = 0x24
  out[1] = channel
  out[2] = packet.length >> 8
  out[3] = packet.length & 0xff
  out.set(packet, 4)
  return out
}
