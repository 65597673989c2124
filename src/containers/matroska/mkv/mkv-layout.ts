/**
 * The header elements our MKV writer rewrites in place, shared by the writer (mkv-writer.ts) and the completion of
 * a file a crash left unfinished (mkv-leftover.ts): the SeekHead, the Info (with the Duration once known) and a
 * CuePoint per cluster that starts with a key frame. Positions are relative to the Segment's data.
 */
import { binary, float64, ID, idBytes, master, string, uint } from "./ebml.ts"

/** MuxingApp and WritingApp: also how a leftover is recognized as ours. */
export const MKV_APP = "Capstan"

/** Bytes reserved for the SeekHead and for the Info, right after the Segment header. */
export const SEEK_HEAD_REGION = 96
export const INFO_REGION = 96

export const seekHead = (positions: {
  readonly info: number
  readonly tracks: number
  readonly cues?: number | undefined
}): Uint8Array => {
  const seek = (id: number, position: number) =>
    master(ID.Seek, [binary(ID.SeekID, idBytes(id)), uint(ID.SeekPosition, position, 8)])
  const entries = [seek(ID.Info, positions.info), seek(ID.Tracks, positions.tracks)]
  if (positions.cues !== undefined) entries.push(seek(ID.Cues, positions.cues))
  return master(ID.SeekHead, entries)
}

/** Matroska dates count nanoseconds from 2001-01-01T00:00:00 UTC. */
export const dateUtcNanoseconds = (date: Date): number => Math.max(0, (date.getTime() - Date.UTC(2001, 0, 1)) * 1e6)

export const info = (dateUtcNs: number, durationSeconds: number | undefined): Uint8Array =>
  master(ID.Info, [
    uint(ID.TimestampScale, 1_000_000),
    ...(durationSeconds === undefined ? [] : [float64(ID.Duration, durationSeconds * 1000)]),
    uint(ID.DateUTC, dateUtcNs, 8),
    string(ID.MuxingApp, MKV_APP),
    string(ID.WritingApp, MKV_APP)
  ])

export const cuePoint = (timeMs: number, trackNumber: number, clusterPosition: number): Uint8Array =>
  master(ID.CuePoint, [
    uint(ID.CueTime, timeMs),
    master(ID.CueTrackPositions, [uint(ID.CueTrack, trackNumber), uint(ID.CueClusterPosition, clusterPosition)])
  ])
