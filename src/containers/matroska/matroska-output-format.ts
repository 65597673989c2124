/**
 * The mediabunny output format for each Matroska kind. WebM as mediabunny defines it refuses H.264, which the
 * WebM spec leaves out but the manual records (WebRTC H.264+Opus to WebM) and browsers play: the same muxer
 * writes it with DocType "webm" and CodecID V_MPEG4/ISO/AVC, as Chromium's MediaRecorder does.
 */
import { type MediaCodec, MkvOutputFormat, type MkvOutputFormatOptions, WebMOutputFormat } from "mediabunny"
import type { MatroskaKind } from "./matroska-codecs.ts"

class WebMOutputFormatWithAvc extends WebMOutputFormat {
  override getSupportedCodecs(): Array<MediaCodec> {
    return [...super.getSupportedCodecs(), "avc"]
  }
}

export const matroskaOutputFormat = (kind: MatroskaKind, options: MkvOutputFormatOptions): MkvOutputFormat =>
  kind === "webm" ? new WebMOutputFormatWithAvc(options) : new MkvOutputFormat(options)
