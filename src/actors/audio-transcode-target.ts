/**
 * Which codec a recording's audio is transcoded to, if any: the one decision a media session makes about its audio,
 * from the container chosen for the stream and the audio track's codec. Pure, so every pair is testable.
 *
 * The rule: audio the container can keep is recorded as it comes; otherwise it becomes the first codec of
 * TARGETS the container can keep (AAC for MP4 and MPEG-TS, Opus for WebM). Opus and G.711 into MP4 become AAC as
 * before; AAC (or G.711) into WebM, which holds Opus and Vorbis only, becomes Opus.
 */
import { MATROSKA_CODECS } from "../containers/matroska/matroska-codecs.ts"
import type { AudioCodec } from "../media/frame.ts"
import type { ContainerName } from "../pipelines/container-format.ts"
import type { TranscodeTarget } from "../pipelines/transcoder-command.ts"

/**
 * The audio codecs each container's writer keeps. MP4 is recorded with AAC only (what players of recorded MP4
 * expect), so everything else is transcoded for it; MPEG-TS writes H.264 and AAC (mpeg-ts-format.ts); the
 * Matroska lists are the writer's own.
 */
const KEPT: Record<ContainerName, ReadonlyArray<string>> = {
  mp4: ["AAC"],
  ts: ["AAC"],
  webm: MATROSKA_CODECS.webm,
  mkv: MATROSKA_CODECS.mkv
}

/** Preferred targets, in order: AAC where it fits (the manual's default audio), else Opus. */
const TARGETS: ReadonlyArray<TranscodeTarget> = ["AAC", "OPUS"]

/**
 * The codec to transcode `codec` audio to for `container`, or undefined to record it as it is. Should the
 * transcoder be unable to read a codec, it fails to start, which leaves the audio out of the file and reports why,
 * rather than failing the whole file on a track the container refuses.
 */
export const audioTranscodeTarget = (container: ContainerName, codec: AudioCodec): TranscodeTarget | undefined => {
  const kept = KEPT[container]
  if (kept.includes(codec)) return undefined
  return TARGETS.find((target) => kept.includes(target))
}
