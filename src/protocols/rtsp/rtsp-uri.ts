/**
 * Camera URIs (RFC 2326 3.2): `rtsp://user:password@host:port/path?query`. The credentials are taken out
 * (percent-decoded) and never travel further than the Authorization header; everything that is logged, listed or
 * sent as a Request-URI is the URI without them. Also resolves `a=control` URLs against a base (C.1.1).
 */

export interface RtspUri {
  readonly host: string
  readonly port: number
  /** The URI without credentials or fragment: the Request-URI, and what may be logged and listed. */
  readonly redacted: string
  readonly credentials: RtspCredentials | undefined
}

export interface RtspCredentials {
  readonly username: string
  readonly password: string
}

/** RFC 2326 3.2: the default port of rtsp. */
export const DEFAULT_RTSP_PORT = 554

const decode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** Parses a camera URI, or says why it is not one. Only `rtsp:` is supported (no `rtsps:`). */
export const parseRtspUri = (text: string): RtspUri | { readonly problem: string } => {
  if (!URL.canParse(text)) return { problem: "not a URI" }
  const url = new URL(text)
  if (url.protocol !== "rtsp:") return { problem: `scheme ${url.protocol.slice(0, -1)} is not rtsp` }
  if (url.hostname === "") return { problem: "no host" }
  const port = url.port === "" ? DEFAULT_RTSP_PORT : Number(url.port)
  const username = decode(url.username)
  const password = decode(url.password)
  if (username === undefined || password === undefined) return { problem: "credentials are not valid percent-encoding" }
  const credentials = username === "" && password === "" ? undefined : { username, password }
  const redacted = `rtsp://${url.host}${url.pathname === "" ? "/" : url.pathname}${url.search}`
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return { host, port, redacted, credentials }
}

export const isRtspUri = (parsed: RtspUri | { readonly problem: string }): parsed is RtspUri => !("problem" in parsed)

/**
 * The URL of `control` against `base` (Content-Base, else the DESCRIBE URL). An absolute control is used as it is
 * and `*` means the base itself. A relative one is appended after a `/`, as ffmpeg and live555 do, rather than
 * replacing the last path segment as RFC 3986 would: cameras write `trackID=1` meaning `<base>/trackID=1`.
 */
export const resolveControl = (base: string, control: string | undefined): string => {
  if (control === undefined || control === "" || control === "*") return base
  if (/^rtsps?:\/\//i.test(control)) return control
  return base.endsWith("/") ? base + control : `${base}/${control}`
}

/** The same URL written two ways (trailing slash, credentials) compares equal, for matching RTP-Info to streams. */
export const sameControl = (a: string, b: string): boolean => {
  const strip = (url: string) => url.replace(/^rtsp:\/\/[^@/]*@/i, "rtsp://").replace(/\/+$/, "").toLowerCase()
  return strip(a) === strip(b)
}
