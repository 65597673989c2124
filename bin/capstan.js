#!/usr/bin/env node
// The `capstan` command. Needs Node >= 22.19 (the project pins it: `npx capstan` and npm scripts use it).
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(`capstan needs Node >= 22.19, this is ${process.version}; run it through npx or npm start`)
  process.exit(1)
}
await import("../src/main.ts")
