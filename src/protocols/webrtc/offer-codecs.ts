/**
 * Reads a WHIP offer (an SDP offer, RFC 8866, as RFC 9725 4.2 sends it) before werift sees it: refuses what is not
 * an offer it could answer, and leaves in each audio and video section only the payload formats this ingest records
 * (ingest-codecs.ts) and their RTX repairs (RFC 4588 8.6). werift matches codecs by name alone, so without this an
 * H.264 packetization-mode=0 payload listed first would be chosen.
 */
import type { TrackKind } from "../../media/frame.ts"
import { acceptsFormatParameters, codecSpec, type IngestCodec } from "./ingest-codecs.ts"

export interface OfferedSection {
  readonly kind: TrackKind
  /** The codecs kept, in the offer's order; empty when the section is refused (its port set to 0). */
  readonly codecs: ReadonlyArray<IngestCodec>
  /** What the peer offered, as `name/rate` (for the 406 reason). */
  readonly offered: ReadonlyArray<string>
}

export type OfferCheck =
  | { readonly _tag: "Offer"; readonly sdp: string; readonly sections: ReadonlyArray<OfferedSection> }
  | { readonly _tag: "Malformed"; readonly reason: string }
  | { readonly _tag: "Unsupported"; readonly reason: string }

interface Rtpmap {
  readonly name: string
  readonly clockRate: number
}

const MEDIA_LINE = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/
const RTPMAP = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/
const FMTP = /^a=fmtp:(\d+) (.*)$/
const PT_ATTRIBUTE = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ ]/

const malformed = (reason: string): OfferCheck => ({ _tag: "Malformed", reason })

/** Checks and filters one offer. */
export const checkOffer = (text: string): OfferCheck => {
  const lines = text.split(/\r?\n/).filter((line) => line.length > 0)
  if (lines[0] !== "v=0") return malformed("not an SDP session description: it must start with v=0")
  const firstMedia = lines.findIndex((line) => line.startsWith("m="))
  if (firstMedia < 0) return malformed("the offer has no media section (m= line)")
  const session = lines.slice(0, firstMedia)
  const sections: Array<Array<string>> = []
  for (const line of lines.slice(firstMedia)) {
    if (line.startsWith("m=")) sections.push([line])
    else sections[sections.length - 1]!.push(line)
  }
  for (const attribute of ["ice-ufrag", "ice-pwd", "fingerprint"]) {
    const has = (block: ReadonlyArray<string>) => block.some((line) => line.startsWith(`a=${attribute}:`))
    if (!has(session) && !sections.every(has)) return malformed(`the offer lacks a=${attribute}`)
  }
  const out = [...session]
  const offered: Array<OfferedSection> = []
  for (const section of sections) {
    const media = MEDIA_LINE.exec(section[0]!)
    if (media === null) return malformed(`unreadable media line: ${section[0]}`)
    const kind = media[1]
    if (kind !== "audio" && kind !== "video") {
      out.push(...section)
      continue
    }
    const filtered = filterSection(section, kind, media[4]!.trim().split(" ").filter((pt) => pt !== ""))
    offered.push(filtered.section)
    out.push(...filtered.lines)
  }
  if (offered.length === 0) return { _tag: "Unsupported", reason: "the offer has no audio or video section" }
  if (offered.every((section) => section.codecs.length === 0)) {
    const list = offered.map((section) => `${section.kind}: ${section.offered.join(", ") || "nothing"}`).join("; ")
    return {
      _tag: "Unsupported",
      reason: `no offered codec can be recorded (H264 packetization-mode=1, VP8, opus, PCMA, PCMU); offered ${list}`
    }
  }
  return { _tag: "Offer", sdp: out.join("\r\n") + "\r\n", sections: offered }
}

const filterSection = (
  lines: ReadonlyArray<string>,
  kind: TrackKind,
  payloadTypes: ReadonlyArray<string>
): { readonly lines: Array<string>; readonly section: OfferedSection } => {
  const rtpmaps = new Map<string, Rtpmap>()
  const fmtps = new Map<string, string>()
  for (const line of lines) {
    const rtpmap = RTPMAP.exec(line)
    if (rtpmap !== null) rtpmaps.set(rtpmap[1]!, { name: rtpmap[2]!, clockRate: Number(rtpmap[3]) })
    const fmtp = FMTP.exec(line)
    if (fmtp !== null) fmtps.set(fmtp[1]!, fmtp[2]!)
  }
  const kept = new Set<string>()
  const codecs: Array<IngestCodec> = []
  for (const pt of payloadTypes) {
    const rtpmap = rtpmaps.get(pt)
    const spec = rtpmap && codecSpec(rtpmap.name, rtpmap.clockRate)
    if (spec !== undefined && spec.kind === kind && acceptsFormatParameters(spec, fmtps.get(pt))) {
      kept.add(pt)
      if (!codecs.includes(spec.codec)) codecs.push(spec.codec)
    }
  }
  for (const pt of payloadTypes) {
    const apt = /(?:^|;)\s*apt=(\d+)/.exec(fmtps.get(pt) ?? "")
    if (rtpmaps.get(pt)?.name.toLowerCase() === "rtx" && apt !== null && kept.has(apt[1]!)) kept.add(pt)
  }
  const offered = payloadTypes.map((pt) => {
    const rtpmap = rtpmaps.get(pt)
    return rtpmap === undefined ? pt : `${rtpmap.name}/${rtpmap.clockRate}`
  })
  const section: OfferedSection = { kind, codecs, offered }
  const [mediaLine, ...rest] = lines
  const words = mediaLine!.split(" ")
  if (kept.size === 0) {
    // Refused: port 0 (RFC 8866 5.14, RFC 3264 6) makes werift answer it as rejected.
    return { lines: [[words[0], "0", ...words.slice(2)].join(" "), ...rest], section }
  }
  const keptTypes = payloadTypes.filter((pt) => kept.has(pt))
  const body = rest.filter((line) => {
    const attribute = PT_ATTRIBUTE.exec(line)
    return attribute === null || kept.has(attribute[1]!)
  })
  return { lines: [[...words.slice(0, 3), ...keptTypes].join(" "), ...body], section }
}
