#!/bin/sh
# The manual's offline_mixer_tool.sh ("Multiple streams mixing tool"): mixes a multi-recording into
# NAME_mixed.mp4, or prints its tracks (--show-tracks-info FILE), or pulls its streams (--pull-streams FILE).
# It runs `capstan offline-mixer` from the checkout it sits in, with the Node 22 the project pins; paths are taken
# from the caller's working directory. Settings: --config FILE, else $CAPSTAN_OFFLINE_MIXER_CONFIG, else
# config/offline_mixer.json of the checkout. Exit status: 0 when done, 1 on any failure (one line on stderr).
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
exec "$root/node_modules/.bin/node" "$root/src/main.ts" offline-mixer "$@"
