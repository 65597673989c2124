/**
 * tools/offline_mixer_tool.sh through `capstan offline-mixer`, as an operator or the multi-record hook runs it:
 * stdout holds only the result (JSON or paths), a failure is exit 1 with one line. Skipped until src/main.ts has
 * the offline-mixer subcommand (offlineMixerCommand from src/mixer/mixer-command.ts).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { buildMultiRecording, fixtureDir, stream } from "./fixtures/mixer/multi-recording.ts"

const TOOL = path.resolve("tools/offline_mixer_tool.sh")

const tool = (args: ReadonlyArray<string>, cwd: string) =>
  spawnSync(TOOL, args, {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, CAPSTAN_OFFLINE_MIXER_CONFIG: "" }
  })

describe("offline_mixer_tool.sh", () => {
  let dir = ""
  beforeAll(() => {
    dir = fixtureDir("mixer-cli")
    buildMultiRecording(path.join(dir, "multi-recorder___cli.mp4"), [
      ...stream("s-a", "alice", 0, 2, { color: "red" }),
      ...stream("s-b", "bob", 1, 1, { color: "blue" })
    ])
  }, 60_000)

  it("prints the tracks as a JSON array on stdout and nothing else", () => {
    const result = tool(["--show-tracks-info", "multi-recorder___cli.mp4"], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    const tracks = JSON.parse(result.stdout)
    const owners = tracks.map((t: { mediaSessionId: string }) => t.mediaSessionId)
    assert.deepStrictEqual(owners, ["s-a", "s-a", "s-b", "s-b"])
    assert.deepStrictEqual(tracks[2].trackEdits.map((e: { type: string }) => e.type), ["pause", "media"])
  })

  it("mixes with the settings of --config and prints the mixed file's path", () => {
    fs.writeFileSync(path.join(dir, "mixer.json"), JSON.stringify({ hasAudio: "false", minAvailableSpace: "1m" }))
    const result = tool(["--config", "mixer.json", "multi-recorder___cli.mp4"], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    const output = path.join(dir, "multi-recorder___cli_mixed.mp4")
    assert.strictEqual(result.stdout.trim(), output)
    assert.isTrue(fs.statSync(output).size > 0)
  })

  it("pulls the streams and prints one path a line", () => {
    const result = tool(["--pull-streams", "--no-fill-gaps", "multi-recorder___cli.mp4"], dir)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(result.stdout.trim().split("\n"), [
      path.join(dir, "multi-recorder___cli_s-a.mkv"),
      path.join(dir, "multi-recorder___cli_s-b.mkv")
    ])
  })

  it.each([
    [["--config", "bad.json", "multi-recorder___cli.mp4"], /bad\.json: expected true or false at \["hasVideo"\]/],
    [["--config", "huge.json", "multi-recorder___cli.mp4"], /Not enough available disk space: .* mixing not started/]
  ])("fails with exit 1 and one line: %o", (args, expected) => {
    fs.writeFileSync(path.join(dir, "bad.json"), `{"hasVideo": "maybe"}`)
    fs.writeFileSync(path.join(dir, "huge.json"), `{"minAvailableSpace": "99999g"}`)
    const result = tool(args, dir)
    assert.strictEqual(result.status, 1)
    const lines = result.stderr.trim().split("\n").filter((line) => !/ INFO /.test(line))
    assert.strictEqual(lines.length, 1, result.stderr)
    assert.match(lines[0]!, expected)
    assert.strictEqual(result.stdout, "")
  })
})
