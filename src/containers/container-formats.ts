/**
 * The container writers the recorder can choose from, configured from the server config.
 */
import type { RecordContainer } from "../config/record-formats.ts"
import type { CapstanConfigShape } from "../config/schema.ts"
import type { ContainerFormat } from "../pipelines/container-format.ts"
import { matroskaFormat } from "./matroska/index.ts"
import { mpegTsFormat } from "./mpeg-ts/index.ts"
import { mp4Format } from "./mp4-format.ts"

export const containerFormats = (config: CapstanConfigShape): (container: RecordContainer) => ContainerFormat => {
  const mp4 = mp4Format({ moovFirst: config.mp4ContainerMoovFirst })
  const clusters = {
    clusterDurationMs: config.webmClusterDurationLimit,
    clusterSizeBytes: config.webmClusterSizeLimit
  }
  const formats: Record<RecordContainer, ContainerFormat> = {
    mp4,
    webm: matroskaFormat("webm", clusters),
    mkv: matroskaFormat("mkv", clusters),
    ts: mpegTsFormat()
  }
  return (container) => formats[container]
}
