/**
 * Headless Chromium (the Debian package at /usr/bin/chromium) through playwright-core, set up for WebRTC tests:
 * fake camera and microphone granted without a prompt, loopback ICE candidates allowed and not hidden behind mDNS
 * names, no background traffic. Run it inside test/support/netns.ts so that loopback is all it can see.
 */
import { type Browser, chromium } from "playwright-core"

export const chromiumPath = "/usr/bin/chromium"

export const chromiumArgs: ReadonlyArray<string> = [
  "--no-sandbox",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run"
]

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs], timeout: 30_000 })
