#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs the real peers the tests drive (ffmpeg, mkvtoolnix,
# nginx with the RTMP module), the npm dependencies (which pin Node 22), then type-checks and runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v mkvmerge >/dev/null 2>&1 || need+=(mkvtoolnix)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
ls /usr/lib/nginx/modules/ngx_rtmp_module.so >/dev/null 2>&1 || need+=(libnginx-mod-rtmp)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

export PATH="$PWD/node_modules/.bin:$PATH"
echo "node $(node --version), ffmpeg $(ffmpeg -version | head -n1 | cut -d' ' -f3)"
tsc --noEmit -p .
vitest run "$@"
