/**
 * The MPEG-TS container format of the recording pipeline (manual: "Recording to MPEG-TS container",
 * record_formats=h264-ts): H.264 video and AAC audio only.
 */
import type { Track } from "../../media/frame.ts"
import type { ContainerFormat } from "../../pipelines/container-format.ts"
import { ContainerWriteError } from "../../pipelines/container-format.ts"
import { PositionedFile } from "../matroska/positioned-file.ts"
import { adtsConfigOf, parameterSetsOf } from "./elementary-streams.ts"
import { MpegTsWriter } from "./mpeg-ts-writer.ts"

/** Why `track` cannot go into a transport stream, if it cannot. */
export const checkMpegTsTrack = (track: Track): ContainerWriteError | undefined => {
  if (track.codec !== "H264" && track.codec !== "AAC") {
    const message = `${track.codec} cannot be recorded to MPEG-TS (supported: H264, AAC)`
    return new ContainerWriteError(message, "UnsupportedCodec")
  }
  if (track.codec === "H264" && parameterSetsOf(track.config) === undefined) {
    return new ContainerWriteError("H.264 track without a valid AVCDecoderConfigurationRecord", "InvalidTrack")
  }
  if (track.codec === "AAC" && adtsConfigOf(track.config) === undefined) {
    return new ContainerWriteError("AAC track whose AudioSpecificConfig ADTS cannot carry", "InvalidTrack")
  }
  return undefined
}

export const mpegTsFormat = (): ContainerFormat => ({
  name: "ts",
  extension: "ts",
  open: ({ tmpPath, tracks }) => {
    if (tracks.length === 0) return new ContainerWriteError("no tracks to record", "InvalidTrack")
    for (const track of tracks) {
      const problem = checkMpegTsTrack(track)
      if (problem !== undefined) return problem
    }
    const file = PositionedFile.create(tmpPath)
    if (file instanceof ContainerWriteError) return file
    return new MpegTsWriter(file, tracks)
  }
})
