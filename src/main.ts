/**
 * The `capstan` command line: `capstan serve [--config FILE]` runs the recorder until it is stopped.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Capstan } from "./capstan.ts"

const config = Flag.File("config").pipe(
  Flag.withDescription("A properties file (flashphoner.properties keys); defaults to $CAPSTAN_CONFIG"),
  Flag.optional
)

const serve = Command.make(
  "serve",
  { config },
  ({ config }) => Layer.launch(Capstan.layer({ configFile: Option.getOrUndefined(config) }))
).pipe(Command.withDescription("Run the recording server: RTMP ingest, recorder, REST API and downloads"))

const capstan = Command.make("capstan").pipe(
  Command.withDescription("Capstan stream recording server"),
  Command.withSubcommands([serve])
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
