/**
 * The MP4 recording writer: Mp4Recorder records frames, recoverMp4 rebuilds a file after a crash.
 */
export { type AddTrackOptions, Mp4Recorder, type Mp4RecorderOptions } from "./mp4-recorder.ts"
export { type Mp4FileInfo, type Mp4FinalizeOptions, type Mp4TrackInfo } from "./mp4-file-writer.ts"
export { recoverMp4, type RecoverMp4Options } from "./mp4-recovery.ts"
export { Mp4WriteError, Mp4WriteErrorReason } from "./mp4-write-error.ts"
export { type EditSegment } from "./edit-list.ts"
export { journalPath } from "./temp-files.ts"
