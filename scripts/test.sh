#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs the real peers the tests drive (ffmpeg, mkvtoolnix, nginx
# with the RTMP module, Chromium, a GStreamer RTSP server, VLC), the npm dependencies (which pin Node 22), then
# type-checks and runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v mkvmerge >/dev/null 2>&1 || need+=(mkvtoolnix)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
ls /usr/lib/nginx/modules/ngx_rtmp_module.so >/dev/null 2>&1 || need+=(libnginx-mod-rtmp)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v fallocate >/dev/null 2>&1 || need+=(util-linux)
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || need+=(fonts-dejavu-core)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# VLC as a player of our MPEG-TS recordings: the player, and its base plugins (TS demuxer, avcodec decoders and
# encoders, transcode stream output); setpriv runs it as nobody, since VLC refuses to run as root.
command -v cvlc >/dev/null 2>&1 || need+=(vlc-bin)
ls /usr/lib/*/vlc/plugins/codec/libavcodec_plugin.so >/dev/null 2>&1 || need+=(vlc-plugin-base)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# The RTSP camera stand-in: GStreamer's RTSP server through its Python bindings, with the codec plugins.
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 || need+=(
  gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi python3-gst-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
)
# Its AAC and G.722 encoders (avenc_aac, avenc_g722) come from gst-libav.
gst-inspect-1.0 avenc_g722 >/dev/null 2>&1 || need+=(gstreamer1.0-libav)
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
