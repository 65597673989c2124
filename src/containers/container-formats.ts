/**
 * The container writers the recorder can choose from, configured from the server config.
 */
import { Duration } from "effect"
import type { RecordContainer } from "../config/record-formats.ts"
import type { CapstanConfigShape } from "../config/schema.ts"
import type { ContainerFormat } from "../pipelines/container-format.ts"
import { mp4Format, mp4HeaderModeOf } from "./mp4-format.ts"

export const containerFormats = (config: CapstanConfigShape): (container: RecordContainer) => ContainerFormat => {
  const mp4 = mp4Format({
    moovFirst: config.mp4ContainerMoovFirst,
    header: mp4HeaderModeOf({
      reserveSpace: config.mp4ContainerMoovFirstReserveSpace,
      reservedKilobytes: config.mp4ContainerMoovReservedSpaceSize,
      headerOnFly: config.mp4ContainerWriteHeaderOnFly,
      headerOnFlySeconds: Duration.toSeconds(config.mp4ContainerWriteHeaderOnFlyInterval)
    })
  })
  return (container) => {
    switch (container) {
      case "mp4":
        return mp4
      default:
        // WebM, MKV and MPEG-TS writers arrive with the containers issue; until then every stream goes to MP4.
        return mp4
    }
  }
}
