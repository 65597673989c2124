/**
 * The WebM and MKV container formats of the recording pipeline (manual: "MP4, WebM, MKV containers support",
 * "VP8 streams recording to webm container"): checks the tracks, creates the temporary file and opens a writer.
 * WebM goes through mediabunny's muxer; MKV through our own writer (mkv/), which keeps G.711 and G.722 as they
 * came and lets a multi-recording add tracks while it records.
 */
import type { ContainerFormat } from "../../pipelines/container-format.ts"
import { ContainerWriteError } from "../../pipelines/container-format.ts"
import type { ClusterLimitOptions } from "./cluster-limits.ts"
import { MatroskaWriter } from "./matroska-writer.ts"
import { checkMatroskaTrack, type MatroskaKind } from "./matroska-codecs.ts"
import { MkvWriter } from "./mkv/mkv-writer.ts"
import { checkMkvTrack } from "./mkv/track-entry.ts"
import { PositionedFile } from "./positioned-file.ts"

/** The manual's defaults: webm_cluster_duration_limit=100000, webm_cluster_size_limit=131072. */
export const defaultClusterLimits: ClusterLimitOptions = { clusterDurationMs: 100_000, clusterSizeBytes: 131_072 }

export const matroskaFormat = (
  kind: MatroskaKind,
  options: ClusterLimitOptions = defaultClusterLimits
): ContainerFormat => ({
  name: kind,
  extension: kind,
  open: ({ tmpPath, tracks, creationTime }) => {
    if (tracks.length === 0) return new ContainerWriteError("no tracks to record", "InvalidTrack")
    for (const track of tracks) {
      const problem = kind === "mkv" ? checkMkvTrack(track) : checkMatroskaTrack(kind, track)
      if (problem !== undefined) return problem
    }
    const file = PositionedFile.create(tmpPath)
    if (file instanceof ContainerWriteError) return file
    return kind === "mkv"
      ? new MkvWriter({ tracks, file, limits: options, creationTime })
      : new MatroskaWriter({ kind, tracks, file, limits: options, creationTime })
  }
})
