/**
 * The one error of configuration: a bad value, a malformed line or an unreadable file. Its message is a single
 * line naming the key, the value and what was expected, e.g.
 * `config: http_port="70000" is invalid: expected an integer port 1..65535`.
 */
import { Schema } from "effect"

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String
}) {}
