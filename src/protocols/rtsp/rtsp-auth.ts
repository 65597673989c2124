/**
 * RTSP authentication as HTTP's (RFC 2326 D.2 refers to RFC 2617): reads the WWW-Authenticate challenges of a 401
 * and answers with Basic (2) or Digest (3.2.2; MD5 and MD5-sess, with qop=auth or the RFC 2069 form without qop).
 * Digest is preferred when both are offered, since Basic sends the password in the clear.
 */
import * as crypto from "node:crypto"
import type { RtspCredentials } from "./rtsp-uri.ts"

export type Challenge =
  | { readonly scheme: "Basic"; readonly realm: string }
  | {
    readonly scheme: "Digest"
    readonly realm: string
    readonly nonce: string
    readonly opaque: string | undefined
    /** "MD5" (default) or "MD5-sess". */
    readonly algorithm: string
    /** qop options offered; empty for the RFC 2069 form. */
    readonly qop: ReadonlyArray<string>
  }

/** Splits a header value into auth-schemes and their `key=value` / `key="quoted"` parameters (RFC 2617 1.2). */
const tokenize = (value: string): Array<{ scheme: string; params: Map<string, string> }> => {
  const out: Array<{ scheme: string; params: Map<string, string> }> = []
  const pattern = /\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/y
  let match: RegExpExecArray | null
  while (pattern.lastIndex < value.length && (match = pattern.exec(value)) !== null) {
    if (match[0].trim() === "") break
    const [, name, quoted, token] = match
    if (quoted === undefined && token === undefined) out.push({ scheme: name!, params: new Map() })
    else out.at(-1)?.params.set(name!.toLowerCase(), quoted !== undefined ? quoted.replace(/\\(.)/g, "$1") : token!)
  }
  return out
}

/** Every challenge of the WWW-Authenticate values of one response that we can answer. */
export const parseChallenges = (values: ReadonlyArray<string>): Array<Challenge> => {
  const challenges: Array<Challenge> = []
  for (const value of values) {
    for (const { scheme, params } of tokenize(value)) {
      const realm = params.get("realm") ?? ""
      if (scheme.toLowerCase() === "basic") challenges.push({ scheme: "Basic", realm })
      else if (scheme.toLowerCase() === "digest" && params.has("nonce")) {
        const algorithm = params.get("algorithm") ?? "MD5"
        if (!/^MD5(-sess)?$/i.test(algorithm)) continue
        challenges.push({
          scheme: "Digest",
          realm,
          nonce: params.get("nonce")!,
          opaque: params.get("opaque"),
          algorithm,
          qop: (params.get("qop") ?? "").split(",").map((q) => q.trim().toLowerCase()).filter((q) => q !== "")
        })
      }
    }
  }
  return challenges
}

/** The challenge to answer: Digest when offered, else Basic. */
export const pickChallenge = (challenges: ReadonlyArray<Challenge>): Challenge | undefined =>
  challenges.find((c) => c.scheme === "Digest") ?? challenges.find((c) => c.scheme === "Basic")

const md5 = (text: string): string => crypto.createHash("md5").update(text, "utf8").digest("hex")

export const basicAuthorization = (credentials: RtspCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}`

export interface DigestInput {
  readonly method: string
  /** The digest-uri: the Request-URI of the request being authorized. */
  readonly uri: string
  /** How many requests used this nonce so far, this one included (nc, 8 hex digits on the wire). */
  readonly nonceCount: number
  /** The client nonce; random per request in real use, fixed in tests. */
  readonly cnonce: string
}

/** request-digest of RFC 2617 3.2.2.1, with qop=auth when the challenge offers it. */
export const digestResponse = (
  credentials: RtspCredentials,
  challenge: Extract<Challenge, { scheme: "Digest" }>,
  input: DigestInput
): string => {
  const nc = input.nonceCount.toString(16).padStart(8, "0")
  let ha1 = md5(`${credentials.username}:${challenge.realm}:${credentials.password}`)
  if (/-sess$/i.test(challenge.algorithm)) ha1 = md5(`${ha1}:${challenge.nonce}:${input.cnonce}`)
  const ha2 = md5(`${input.method}:${input.uri}`)
  return challenge.qop.includes("auth")
    ? md5(`${ha1}:${challenge.nonce}:${nc}:${input.cnonce}:auth:${ha2}`)
    : md5(`${ha1}:${challenge.nonce}:${ha2}`)
}

const quote = (text: string): string => `"${text.replace(/(["\\])/g, "\\$1")}"`

/** The Authorization header value answering `challenge` for one request. */
export const authorization = (credentials: RtspCredentials, challenge: Challenge, input: DigestInput): string => {
  if (challenge.scheme === "Basic") return basicAuthorization(credentials)
  const parts = [
    `username=${quote(credentials.username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(input.uri)}`,
    `response=${quote(digestResponse(credentials, challenge, input))}`
  ]
  if (challenge.algorithm.toUpperCase() !== "MD5") parts.push(`algorithm=${challenge.algorithm}`)
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`)
  if (challenge.qop.includes("auth")) {
    parts.push("qop=auth", `nc=${input.nonceCount.toString(16).padStart(8, "0")}`, `cnonce=${quote(input.cnonce)}`)
  }
  return `Digest ${parts.join(", ")}`
}

/** A fresh client nonce (RFC 2617 3.2.2: opaque to the server, unpredictable). */
export const makeCnonce = (): string => crypto.randomBytes(8).toString("hex")
