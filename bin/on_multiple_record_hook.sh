#!/bin/sh
# The default on_multiple_record_hook_script (manual: "Multiple recording file handling script"): mixes the finished
# multi-recording with the offline mixer, which then POSTs the result to callbackUrl of offline_mixer.json.
# Arguments: $1 the recorder uri, $2 the absolute path of the multi-recording.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
exec "$root/tools/offline_mixer_tool.sh" --uri "$1" "$2"
