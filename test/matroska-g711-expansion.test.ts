/** G.711 expansion judged by ffmpeg's own A-law and µ-law decoders over every one of the 256 codes. */
import { spawnSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { expandG711 } from "../src/containers/matroska/g711-expansion.ts"

/** ffmpeg decoding raw G.711 bytes to signed 16-bit little-endian samples. */
const ffmpegExpand = (law: "alaw" | "mulaw", codes: Uint8Array): Uint8Array => {
  const result = spawnSync("/usr/bin/ffmpeg", [
    "-hide_banner", "-v", "error", "-nostdin", "-f", law, "-ar", "8000", "-ac", "1", "-i", "pipe:0",
    "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"
  ], { input: codes, timeout: 30_000, maxBuffer: 1 << 20 })
  if (result.status !== 0) throw new Error(`ffmpeg ${law}: ${result.stderr}`)
  return new Uint8Array(result.stdout)
}

const everyCode = Uint8Array.from({ length: 256 }, (_, i) => i)

describe("expandG711", () => {
  for (const [law, ffmpegLaw] of [["alaw", "alaw"], ["ulaw", "mulaw"]] as const) {
    it(`expands every ${law} code exactly as ffmpeg does`, () => {
      const ours = expandG711(law, everyCode)
      const theirs = ffmpegExpand(ffmpegLaw, everyCode)
      assert.strictEqual(ours.byteLength, 512)
      assert.deepStrictEqual([...ours], [...theirs])
    })
  }

  it("maps each byte to two, independently of its neighbours", () => {
    const laws = fc.constantFrom("alaw" as const, "ulaw" as const)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), laws, (data, law) => {
      const out = expandG711(law, data)
      assert.strictEqual(out.byteLength, data.byteLength * 2)
      data.forEach((code, i) => {
        const single = expandG711(law, Uint8Array.of(code))
        assert.deepStrictEqual([out[2 * i], out[2 * i + 1]], [single[0], single[1]])
      })
    }))
  })
})
