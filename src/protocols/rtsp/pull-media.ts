/**
 * Chooses what a pull takes from a camera's SDP: the first H.264 video (RFC 6184 8.1, packetization-mode 0 or 1)
 * and the first AAC (RFC 3640 mpeg4-generic, AAC-hbr/AAC-lbr), PCMA, PCMU or G.722 audio, with what their
 * depacketizers and tracks need. Everything else is skipped with a reason.
 */
import { parseAudioSpecificConfig } from "../../media/aac-config.ts"
import type { AudioCodec } from "../../media/frame.ts"
import type { AacHbrParameters } from "../rtp/aac-depacketizer.ts"
import { resolveControl } from "./rtsp-uri.ts"
import type { SdpMedia, SessionDescription } from "./sdp.ts"

export type PullMedia =
  | {
    readonly kind: "video"
    readonly codec: "H264"
    readonly payloadType: number
    readonly clockRate: number
    /** The absolute URL to SETUP. */
    readonly control: string
    /** NAL units of sprop-parameter-sets (SPS, PPS), possibly none: then they come in-band. */
    readonly parameterSets: ReadonlyArray<Uint8Array>
  }
  | {
    readonly kind: "audio"
    readonly codec: Extract<AudioCodec, "AAC" | SampleAudioCodec>
    readonly payloadType: number
    readonly clockRate: number
    readonly control: string
    readonly sampleRate: number
    readonly channels: number
    /** AAC: the AudioSpecificConfig of fmtp `config`. G.711, G.722: empty. */
    readonly config: Uint8Array
    /** AAC: the AU header field sizes. */
    readonly aac: AacHbrParameters | undefined
  }

/** The sample-based audio codecs (RFC 3551 4.3) a pull takes, one frame per RTP packet. */
type SampleAudioCodec = Extract<AudioCodec, "PCMA" | "PCMU" | "G722">

/**
 * Their sample rates. The RTP clock of all three is 8000 Hz, whatever the rtpmap says: G.722 samples at 16 kHz but
 * keeps RFC 1890's 8000 Hz clock (RFC 3551 4.5.2), so its frames' timestamps count 8000 ticks a second.
 */
const SAMPLE_AUDIO_RATES: Record<SampleAudioCodec, number> = { PCMA: 8000, PCMU: 8000, G722: 16_000 }
const SAMPLE_AUDIO_CLOCK_RATE = 8000

const isSampleAudio = (encoding: string): encoding is SampleAudioCodec => Object.hasOwn(SAMPLE_AUDIO_RATES, encoding)

export interface MediaChoice {
  readonly media: ReadonlyArray<PullMedia>
  /** Why each other media or format was left out, for the log. */
  readonly skipped: ReadonlyArray<string>
}

const fromBase64 = (text: string): Uint8Array | undefined =>
  /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined

const fromHex = (text: string): Uint8Array | undefined =>
  /^([0-9a-f]{2})+$/i.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : undefined

const integer = (text: string | undefined, fallback: number): number =>
  text !== undefined && /^\d+$/.test(text) ? Number(text) : fallback

type Outcome = PullMedia | string

const h264 = (media: SdpMedia, payloadType: number, clockRate: number, control: string): Outcome => {
  const fmtp = media.fmtp.get(payloadType) ?? new Map<string, string>()
  const mode = integer(fmtp.get("packetization-mode"), 0)
  if (mode > 1) return `H.264 packetization-mode ${mode} (interleaved) is not supported`
  const sprop = (fmtp.get("sprop-parameter-sets") ?? "").split(",").filter((s) => s !== "")
  const parameterSets = sprop.map(fromBase64).filter((nal): nal is Uint8Array => nal !== undefined && nal.length > 0)
  return { kind: "video", codec: "H264", payloadType, clockRate, control, parameterSets }
}

const aac = (media: SdpMedia, payloadType: number, clockRate: number, control: string): Outcome => {
  const fmtp = media.fmtp.get(payloadType) ?? new Map<string, string>()
  const mode = (fmtp.get("mode") ?? "").toLowerCase()
  if (mode !== "aac-hbr" && mode !== "aac-lbr") return `mpeg4-generic mode ${mode || "(none)"} is not AAC-hbr`
  const config = fromHex(fmtp.get("config") ?? "")
  const info = config && parseAudioSpecificConfig(config)
  if (config === undefined || info === undefined) return "mpeg4-generic without a valid config"
  const sizeLength = integer(fmtp.get("sizelength"), 0)
  if (sizeLength === 0 || sizeLength > 16) return `mpeg4-generic sizeLength ${fmtp.get("sizelength")} is not supported`
  const aac = {
    sizeLength,
    indexLength: integer(fmtp.get("indexlength"), 0),
    indexDeltaLength: integer(fmtp.get("indexdeltalength"), 0)
  }
  const channels = info.channels > 0 ? info.channels : media.rtpmap.get(payloadType)?.channels ?? 1
  const { sampleRate } = info
  return { kind: "audio", codec: "AAC", payloadType, clockRate, control, sampleRate, channels, config, aac }
}

const sampleAudio = (codec: SampleAudioCodec, media: SdpMedia, payloadType: number, control: string): Outcome => {
  const channels = media.rtpmap.get(payloadType)?.channels ?? 1
  if (channels !== 1) return `${codec} with ${channels} channels is not supported`
  return {
    kind: "audio",
    codec,
    payloadType,
    clockRate: SAMPLE_AUDIO_CLOCK_RATE,
    control,
    sampleRate: SAMPLE_AUDIO_RATES[codec],
    channels: 1,
    config: new Uint8Array(0),
    aac: undefined
  }
}

const choose = (media: SdpMedia, base: string): Outcome => {
  const control = resolveControl(base, media.control)
  const reasons: Array<string> = []
  for (const payloadType of media.payloadTypes) {
    const rtpmap = media.rtpmap.get(payloadType)
    if (rtpmap === undefined) {
      reasons.push(`payload type ${payloadType} without rtpmap`)
      continue
    }
    const encoding = rtpmap.encoding.toUpperCase()
    const outcome = media.type === "video" && encoding === "H264"
      ? h264(media, payloadType, rtpmap.clockRate, control)
      : media.type === "audio" && encoding === "MPEG4-GENERIC"
      ? aac(media, payloadType, rtpmap.clockRate, control)
      : media.type === "audio" && isSampleAudio(encoding)
      ? sampleAudio(encoding, media, payloadType, control)
      : `${media.type} ${rtpmap.encoding} is not supported`
    if (typeof outcome !== "string") return outcome
    reasons.push(outcome)
  }
  return reasons.join("; ") || `${media.type} media without payload types`
}

/** The video and the audio to pull, at most one of each, in SDP order. */
export const chooseMedia = (sdp: SessionDescription, base: string): MediaChoice => {
  const media: Array<PullMedia> = []
  const skipped: Array<string> = []
  for (const candidate of sdp.media) {
    if (!candidate.protocol.toUpperCase().startsWith("RTP/AVP")) {
      skipped.push(`${candidate.type} over ${candidate.protocol}`)
      continue
    }
    const outcome = choose(candidate, base)
    if (typeof outcome === "string") skipped.push(outcome)
    else if (!media.some((m) => m.kind === outcome.kind)) media.push(outcome)
    else skipped.push(`another ${outcome.kind} media (${outcome.codec})`)
  }
  return { media, skipped }
}
