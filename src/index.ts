/**
 * Capstan as a library: provide `Capstan.layer(options)` to run the whole recorder inside an Effect program.
 */
export { Capstan, type CapstanOptions } from "./capstan.ts"
export { CapstanConfig } from "./config/service.ts"
export { MediaSessions } from "./actors/media-sessions.ts"
export { RecorderControl } from "./actors/recorder-control.ts"
export type { Frame, Track } from "./media/frame.ts"
export { Publisher } from "./media/publisher.ts"
