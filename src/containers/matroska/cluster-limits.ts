/**
 * webm_cluster_duration_limit and webm_cluster_size_limit (manual: "VP8 streams recording to webm container"):
 * a Cluster is closed once it reaches either limit. mediabunny's only cluster control is its
 * `minimumClusterDuration` option, which it reads each time a new cluster could begin, that is when every track
 * starts with a key frame, and compares with the current cluster's length. We give it a getter: it answers 0
 * (close now) once a limit is reached and a key frame was fed since the last cut, and "never" otherwise. So a
 * cluster ends at the first video key frame after a limit (just before it, when an audio block precedes it in
 * time), once per key frame; mediabunny itself also closes any cluster at 32.767 s (the range of a block's
 * relative timestamp). Cues point at clusters, so the limits also set how finely a file seeks.
 *
 * Bytes and times are those of the packets handed to the muxer since the last cut, which run at most one
 * interleaving step ahead of what is in the cluster.
 */

/** A minimumClusterDuration that is never reached. */
const NEVER_SECONDS = 1e9

export interface ClusterLimitOptions {
  /** webm_cluster_duration_limit, in milliseconds. */
  readonly clusterDurationMs: number
  /** webm_cluster_size_limit, in bytes. */
  readonly clusterSizeBytes: number
}

export class ClusterLimits {
  private readonly durationSeconds: number
  private readonly sizeBytes: number
  private bytes = 0
  private firstSeconds = Number.NaN
  private lastSeconds = Number.NaN
  /** A key frame was fed since the last cut: the next place a cluster may start is at (or just before) it. */
  private keyFed = false
  /** The first key frame begins the first cluster, which mediabunny opens without asking. */
  private firstKeySeen = false
  /** Clusters this policy closed (not counting the first one and mediabunny's own 32.767 s cuts). */
  cuts = 0

  constructor(options: ClusterLimitOptions) {
    this.durationSeconds = Math.max(0, options.clusterDurationMs) / 1000
    this.sizeBytes = Math.max(0, options.clusterSizeBytes)
  }

  /**
   * Counts a packet of `bytes` presented at `seconds` that is being handed to the muxer; `startsGroup` for video
   * key frames, and for every packet of a file without video.
   */
  fed(seconds: number, bytes: number, startsGroup: boolean): void {
    if (startsGroup) {
      if (this.firstKeySeen) this.keyFed = true
      this.firstKeySeen = true
    }
    if (Number.isNaN(this.firstSeconds)) this.firstSeconds = seconds
    this.lastSeconds = Number.isNaN(this.lastSeconds) ? seconds : Math.max(this.lastSeconds, seconds)
    this.bytes += bytes
  }

  /** Whether the cluster being filled has reached a limit. */
  get due(): boolean {
    return this.bytes >= this.sizeBytes || this.lastSeconds - this.firstSeconds >= this.durationSeconds
  }

  /**
   * The `minimumClusterDuration` for MkvOutputFormatOptions. mediabunny only reads it where a cluster may start,
   * after its other conditions held, so answering 0 closes the cluster: the count starts over.
   */
  get minimumClusterDuration(): number {
    if (!this.due || !this.keyFed) return NEVER_SECONDS
    this.cuts++
    this.keyFed = false
    this.bytes = 0
    this.firstSeconds = Number.NaN
    this.lastSeconds = Number.NaN
    return 0
  }
}
