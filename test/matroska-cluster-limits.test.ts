/** The cluster limit policy: when it lets mediabunny start a new cluster, checked against a plain model. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { ClusterLimits } from "../src/containers/matroska/cluster-limits.ts"

interface Step {
  readonly kind: "feed" | "ask"
  readonly gap: number
  readonly bytes: number
  readonly key: boolean
}

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom("feed" as const, "feed" as const, "ask" as const),
  gap: fc.double({ min: 0, max: 0.5, noNaN: true }),
  bytes: fc.integer({ min: 0, max: 5_000 }),
  key: fc.boolean()
})

describe("ClusterLimits", () => {
  it("cuts exactly when a limit is reached and a key frame came since the last cut (not counting the first)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 3_000 }),
      fc.integer({ min: 0, max: 20_000 }),
      fc.array(step, { maxLength: 200 }),
      (durationMs, sizeBytes, steps) => {
        const limits = new ClusterLimits({ clusterDurationMs: durationMs, clusterSizeBytes: sizeBytes })
        let now = 0
        let bytes = 0
        let first: number | undefined
        let last: number | undefined
        let keySinceCut = false
        let keys = 0
        let cuts = 0
        for (const s of steps) {
          if (s.kind === "feed") {
            now += s.gap
            limits.fed(now, s.bytes, s.key)
            bytes += s.bytes
            first ??= now
            last = now
            if (s.key && keys++ > 0) keySinceCut = true
            continue
          }
          const due = bytes >= sizeBytes || (first !== undefined && last! - first >= durationMs / 1000)
          const answer = limits.minimumClusterDuration
          if (due && keySinceCut) {
            assert.strictEqual(answer, 0)
            cuts++
            bytes = 0
            first = undefined
            last = undefined
            keySinceCut = false
          } else {
            assert.isAbove(answer, 1e6, "never reached")
          }
        }
        assert.strictEqual(limits.cuts, cuts)
      }
    ))
  })

  it("asking has no effect until a limit is reached", () => {
    const limits = new ClusterLimits({ clusterDurationMs: 1_000, clusterSizeBytes: 1_000 })
    limits.fed(0, 10, true)
    limits.fed(0.5, 10, true)
    for (let i = 0; i < 5; i++) assert.isAbove(limits.minimumClusterDuration, 1e6)
    limits.fed(1.0, 10, false)
    assert.strictEqual(limits.minimumClusterDuration, 0)
    assert.isAbove(limits.minimumClusterDuration, 1e6, "counting starts over after a cut")
  })
})
