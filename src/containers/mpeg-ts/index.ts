/**
 * MPEG-TS recording: H.264 + AAC in a single-program transport stream with repeated tables and a PCR.
 */
export { checkMpegTsTrack, mpegTsFormat } from "./mpeg-ts-format.ts"
export { MpegTsWriter, TS_BACKLOG_LIMIT_BYTES } from "./mpeg-ts-writer.ts"
