/**
 * WebM and MKV recording through mediabunny's Matroska muxer.
 */
export { type ClusterLimitOptions } from "./cluster-limits.ts"
export { defaultClusterLimits, matroskaFormat } from "./matroska-format.ts"
export { MATROSKA_CODECS, type MatroskaKind } from "./matroska-codecs.ts"
export { BACKLOG_LIMIT_BYTES, MatroskaWriter } from "./matroska-writer.ts"
