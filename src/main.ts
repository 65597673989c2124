/**
 * The `capstan` command line: `capstan serve [--config FILE]` runs the recorder until it is stopped;
 * `capstan recover FILE` rebuilds one crashed recording.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Clock, Console, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { recoverFile } from "./actors/crash-recovery.ts"
import { recorderEnvironmentLayer } from "./actors/recorder-environment.ts"
import { RecorderEnvironment } from "./actors/recorder-settings.ts"
import { recoveryOptions } from "./actors/startup-recovery.ts"
import { Capstan } from "./capstan.ts"
import { CapstanConfig } from "./config/service.ts"
import { offlineMixerCommand } from "./mixer/mixer-command.ts"

const config = Flag.File("config").pipe(
  Flag.withDescription("A properties file (flashphoner.properties keys); defaults to $CAPSTAN_CONFIG"),
  Flag.optional
)

const serve = Command.make(
  "serve",
  { config },
  ({ config }) => Layer.launch(Capstan.layer({ configFile: Option.getOrUndefined(config) }))
).pipe(Command.withDescription("Run the recording server: RTMP ingest, recorder, REST API and downloads"))

const recover = Command.make(
  "recover",
  { config, file: Argument.File("file", { mustExist: true }) },
  ({ config, file }) =>
    Effect.gen(function*() {
      const { runHook, settings } = yield* RecorderEnvironment
      const capstanConfig = yield* CapstanConfig
      const now = yield* Clock.currentTimeMillis
      const recovered = yield* recoverFile(file, recoveryOptions(settings, capstanConfig.mp4ContainerMoovFirst, now))
      yield* Console.log(
        `recovered ${recovered.path}: ${recovered.frames} frames, ${recovered.durationSeconds.toFixed(3)} s, ` +
          `from the ${recovered.from}`
      )
      yield* runHook(recovered.streamName, recovered.path)
    }).pipe(
      Effect.provide(recorderEnvironmentLayer.pipe(
        Layer.provideMerge(CapstanConfig.layerFromFile(Option.getOrUndefined(config)))
      ))
    )
).pipe(Command.withDescription(
  "Turn what a crash left of one recording (a .tmp data file, its .idx journal, a .header/.tmp pair or a .part) " +
    "into a playable file in record_dir, then run the record hook"
))

const capstan = Command.make("capstan").pipe(
  Command.withDescription("Capstan stream recording server"),
  Command.withSubcommands([serve, recover, offlineMixerCommand])
)

/** A failure to start is one line naming what is wrong (a bad config key, a port in use), then exit code 1. */
const reportFailure = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  const message = typeof error === "object" && error !== null && "message" in error
    ? String(error.message)
    : String(error)
  return Console.error(`capstan: ${message}`)
}

Command.run(capstan, { version: "0.1.0" }).pipe(
  Effect.tapCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : reportFailure(cause))),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
