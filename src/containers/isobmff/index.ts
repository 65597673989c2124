/**
 * The MP4 recording writer: Mp4Recorder records frames (header at finalize, in reserved space or on the fly),
 * recoverMp4 and the leftover functions rebuild files after a crash.
 */
export { type AddTrackOptions, type Mp4HeaderMode, Mp4Recorder, type Mp4RecorderOptions } from "./mp4-recorder.ts"
export { type Mp4FileInfo, type Mp4FinalizeOptions, type Mp4TrackInfo } from "./mp4-file-writer.ts"
export { recoverMp4, type RecoverMp4Options } from "./mp4-recovery.ts"
export {
  dataPathOf,
  inspectLeftover,
  type LeftoverHeader,
  leftoverPathsOf,
  type Mp4Leftover,
  recoverableSeconds,
  recoverLeftover,
  type RecoveredMp4,
  removeLeftover,
  sourceOf
} from "./leftover-recovery.ts"
export { completePart, isOurs, type LeftoverKind, leftoverKindOf } from "./leftover-files.ts"
export { Mp4WriteError, Mp4WriteErrorReason } from "./mp4-write-error.ts"
export { type EditSegment } from "./edit-list.ts"
export { headerPathOf } from "./data-layout.ts"
export { partPathOf } from "./file-moves.ts"
export { journalPath } from "./temp-files.ts"
