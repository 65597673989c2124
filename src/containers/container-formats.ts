/**
 * The container writers the recorder can choose from, configured from the server config.
 */
import type { RecordContainer } from "../config/record-formats.ts"
import type { CapstanConfigShape } from "../config/schema.ts"
import type { ContainerFormat } from "../pipelines/container-format.ts"
import { mp4Format } from "./mp4-format.ts"

export const containerFormats = (config: CapstanConfigShape): (container: RecordContainer) => ContainerFormat => {
  const mp4 = mp4Format({ moovFirst: config.mp4ContainerMoovFirst })
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
