/**
 * The container writers the recorder can choose from, configured from the server config.
 */
import { Duration } from "effect"
import type { RecordContainer } from "../config/record-formats.ts"
import type { CapstanConfigShape } from "../config/schema.ts"
import type { ContainerFormat } from "../pipelines/container-format.ts"
import { matroskaFormat } from "./matroska/index.ts"
import { mp4Format, mp4HeaderModeOf } from "./mp4-format.ts"
import { mpegTsFormat } from "./mpeg-ts/index.ts"

export const containerFormats = (config: CapstanConfigShape): (container: RecordContainer) => ContainerFormat => {
  const clusters = {
    clusterDurationMs: config.webmClusterDurationLimit,
    clusterSizeBytes: config.webmClusterSizeLimit
  }
  const formats: Record<RecordContainer, ContainerFormat> = {
    mp4: mp4Format({
      moovFirst: config.mp4ContainerMoovFirst,
      header: mp4HeaderModeOf({
        reserveSpace: config.mp4ContainerMoovFirstReserveSpace,
        reservedKilobytes: config.mp4ContainerMoovReservedSpaceSize,
        headerOnFly: config.mp4ContainerWriteHeaderOnFly,
        headerOnFlySeconds: Duration.toSeconds(config.mp4ContainerWriteHeaderOnFlyInterval)
      })
    }),
    webm: matroskaFormat("webm", clusters),
    mkv: matroskaFormat("mkv", clusters),
    ts: mpegTsFormat()
  }
  return (container) => formats[container]
}
