/**
 * An incremental reader of what an RTSP server sends on the control connection: responses (RFC 2326 7),
 * occasional server requests (e.g. ANNOUNCE, SET_PARAMETER) and, once playing over TCP, interleaved binary frames
 * (10.12: `$`, channel, 16-bit length, data) mixed between them. Feed it socket chunks, then take messages until
 * it needs more. Interleaved data are views into the fed bytes: the reader never overwrites bytes it handed out.
 */
import type { RtspHeaders, RtspResponse } from "./rtsp-message.ts"

export type RtspIncoming =
  | { readonly _tag: "Response"; readonly response: RtspResponse }
  | { readonly _tag: "Request"; readonly method: string; readonly uri: string; readonly headers: RtspHeaders }
  | { readonly _tag: "Interleaved"; readonly channel: number; readonly data: Uint8Array }
  /** The stream cannot be parsed any further; the connection should be closed. */
  | { readonly _tag: "Malformed"; readonly problem: string }

export interface RtspReaderOptions {
  /** A start line and headers longer than this are refused. Default 16 KiB. */
  readonly maxHeaderBytes?: number
  /** Bodies (SDP) longer than this are refused. Default 1 MiB. */
  readonly maxBodyBytes?: number
}

const DOLLAR = 0x24
const CR = 0x0d
const LF = 0x0a

/** Where the empty line that ends the head is, and how long it is, searching from `from`. */
const findHeadEnd = (data: Uint8Array, from: number, to: number): { end: number; length: number } | undefined => {
  for (let i = from; i < to; i++) {
    if (data[i] !== LF) continue
    if (i + 1 < to && data[i + 1] === LF) return { end: i, length: 2 }
    if (i + 2 < to && data[i + 1] === CR && data[i + 2] === LF) return { end: i, length: 3 }
  }
  return undefined
}

const parseHeaders = (lines: ReadonlyArray<string>): Array<readonly [string, string]> => {
  const headers: Array<[string, string]> = []
  for (const line of lines) {
    if (line === "") continue
    if ((line.startsWith(" ") || line.startsWith("\t")) && headers.length > 0) {
      headers[headers.length - 1]![1] += " " + line.trim() // folded continuation line
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
  }
  return headers
}

export class RtspReader {
  readonly #maxHeaderBytes: number
  readonly #maxBodyBytes: number
  #data: Uint8Array = new Uint8Array(0)
  #offset = 0
  #failed: string | undefined

  constructor(options: RtspReaderOptions = {}) {
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  }

  /** Bytes received and not yet taken as a message. */
  get buffered(): number {
    return this.#data.length - this.#offset
  }

  feed(chunk: Uint8Array): void {
    if (this.#offset >= this.#data.length) {
      this.#data = chunk
    } else {
      // A fresh buffer, never the old one: views handed out earlier stay intact.
      const joined = new Uint8Array(this.#data.length - this.#offset + chunk.length)
      joined.set(this.#data.subarray(this.#offset))
      joined.set(chunk, this.#data.length - this.#offset)
      this.#data = joined
    }
    this.#offset = 0
  }

  /** The next whole message, or undefined until more bytes are fed. After Malformed, always Malformed. */
  next(): RtspIncoming | undefined {
    if (this.#failed !== undefined) return { _tag: "Malformed", problem: this.#failed }
    const data = this.#data
    // Some servers end a message with one line break too many.
    while (this.#offset < data.length && (data[this.#offset] === CR || data[this.#offset] === LF)) this.#offset++
    const start = this.#offset
    if (start >= data.length) return undefined
    if (data[start] === DOLLAR) {
      if (start + 4 > data.length) return undefined
      const length = (data[start + 2]! << 8) | data[start + 3]!
      if (start + 4 + length > data.length) return undefined
      this.#offset = start + 4 + length
      return { _tag: "Interleaved", channel: data[start + 1]!, data: data.subarray(start + 4, start + 4 + length) }
    }
    return this.#message(data, start)
  }

  #message(data: Uint8Array, start: number): RtspIncoming | undefined {
    const searchEnd = Math.min(data.length, start + this.#maxHeaderBytes)
    const headEnd = findHeadEnd(data, start, searchEnd)
    if (headEnd === undefined) {
      if (data.length - start >= this.#maxHeaderBytes) {
        return this.#fail(`no end of headers in ${this.#maxHeaderBytes} bytes`)
      }
      return this.#sanePrefix(data, start)
    }
    const head = Buffer.from(data.buffer, data.byteOffset + start, headEnd.end - start).toString("latin1")
    const lines = head.split(/\r?\n/)
    const startLine = lines[0]!.trim()
    const headers = parseHeaders(lines.slice(1))
    const lengthHeader = headers.find(([name]) => name.toLowerCase() === "content-length")?.[1]
    const bodyLength = lengthHeader === undefined ? 0 : Number(lengthHeader)
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) return this.#fail(`bad Content-Length ${lengthHeader}`)
    if (bodyLength > this.#maxBodyBytes) return this.#fail(`body of ${bodyLength} bytes is too long`)
    const bodyStart = headEnd.end + headEnd.length
    if (bodyStart + bodyLength > data.length) return undefined
    const body = data.slice(bodyStart, bodyStart + bodyLength)
    this.#offset = bodyStart + bodyLength

    const status = /^RTSP\/1\.\d (\d{3})(?: (.*))?$/.exec(startLine)
    if (status !== null) {
      return { _tag: "Response", response: { status: Number(status[1]), reason: status[2] ?? "", headers, body } }
    }
    const request = /^([A-Z_]+) (\S+) RTSP\/1\.\d$/.exec(startLine)
    if (request !== null) return { _tag: "Request", method: request[1]!, uri: request[2]!, headers }
    return this.#fail(`unexpected start line ${JSON.stringify(startLine.slice(0, 80))}`)
  }

  /** While a head is incomplete, refuse early what can never become one (binary junk outside a `$` frame). */
  #sanePrefix(data: Uint8Array, start: number): undefined | RtspIncoming {
    const probe = Math.min(data.length, start + 5)
    for (let i = start; i < probe; i++) {
      const byte = data[i]!
      const letter = (byte >= 0x41 && byte <= 0x5a) || byte === 0x5f || byte === 0x2f || (byte >= 0x30 && byte <= 0x39)
      if (!letter) return this.#fail(`unexpected byte 0x${byte.toString(16).padStart(2, "0")} between messages`)
    }
    return undefined
  }

  #fail(problem: string): RtspIncoming {
    this.#failed = problem
    return { _tag: "Malformed", problem }
  }
}
