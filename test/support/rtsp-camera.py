#!/usr/bin/python3
"""An IP camera stand-in for the RTSP pull tests: a GstRtspServer on 127.0.0.1 serving live test patterns.

Usage: /usr/bin/python3 rtsp-camera.py PORT [--basic USER:PASS] [--digest USER:PASS] [--udp-only]
                                            [--session-timeout SECONDS]

Mounts: /h264aac (H.264 pt 96 + AAC-hbr pt 97), /h264pcma (H.264 + PCMA pt 8), /h264pcmu (H.264 + PCMU pt 0),
/h264g722 (H.264 + G.722 pt 9: 16 kHz audio on the 8000 Hz RTP clock of RFC 3551 4.5.2). Every audio is a 440 Hz tone.
Prints "READY" once listening, then "REQUEST <METHOD> <session-or-dash>" for every RTSP request it answers, so
a test can see keep-alives. --udp-only refuses RTP over TCP (SETUP answers 461), --session-timeout shortens the
Session timeout the server announces, and drops sessions that hear no request for that long ("EXPIRED <id>").
"""
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast bitrate=400 "
    "! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval=1"
)
TONE = "audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! audioconvert ! audioresample"
# 20 ms per RTP packet, as cameras send G.711 and G.722 (the payloaders would otherwise fill a packet with
# audiotestsrc's whole 1024-sample buffer, 128 ms of G.711).
PTIME = "min-ptime=20000000 max-ptime=20000000"
MOUNTS = {
    "/h264aac": f"{TONE} ! audio/x-raw,rate=44100,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97",
    "/h264pcma": f"{TONE} ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 {PTIME}",
    "/h264pcmu": f"{TONE} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0 {PTIME}",
    "/h264g722": f"{TONE} ! audio/x-raw,rate=16000,channels=1 ! avenc_g722 ! rtpg722pay name=pay1 pt=9 {PTIME}",
}


def say(line):
    print(line, flush=True)


def parse_args(argv):
    options = {"port": int(argv[1]), "basic": None, "digest": None, "udp_only": False, "session_timeout": None}
    i = 2
    while i < len(argv):
        flag = argv[i]
        if flag == "--udp-only":
            options["udp_only"] = True
            i += 1
        elif flag in ("--basic", "--digest", "--session-timeout"):
            key = flag[2:].replace("-", "_")
            options[key] = argv[i + 1]
            i += 2
        else:
            raise SystemExit(f"unknown argument {flag}")
    return options


def make_auth(options):
    if options["basic"] is None and options["digest"] is None:
        return None
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    methods = GstRtsp.RTSPAuthMethod.NONE
    if options["basic"] is not None:
        user, password = options["basic"].split(":", 1)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        methods |= GstRtsp.RTSPAuthMethod.BASIC
    if options["digest"] is not None:
        user, password = options["digest"].split(":", 1)
        auth.add_digest(user, password, token)
        methods |= GstRtsp.RTSPAuthMethod.DIGEST
    auth.set_supported_methods(methods)
    return auth


def make_factory(audio, options, protected):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {VIDEO} {audio} )")
    if options["udp_only"]:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
    if protected:
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role("user")
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    return factory


def watch_requests(server, options):
    """Prints every request; with --session-timeout, also expires sessions that hear no request for that long.

    GstRtspServer itself lets an idle session live on while media flows, which would hide a client that never
    sends keep-alives; a strict camera drops it, and so does this one ("EXPIRED <session>").
    """
    last_request = {}

    def log(method):
        def handler(_client, context):
            # The Session header as sent (GstRtspServer leaves context.session unset for GET_PARAMETER).
            result, value = context.request.get_header(GstRtsp.RTSPHeaderField.SESSION, 0)
            session = value.split(";")[0].strip() if result == GstRtsp.RTSPResult.OK and value else "-"
            if context.session is not None:
                session = context.session.get_sessionid()
            if session != "-":
                last_request[session] = time.monotonic()
            say(f"REQUEST {method} {session}")
        return handler

    def on_session(_client, session):
        if options["session_timeout"] is not None:
            session.set_timeout(int(options["session_timeout"]))

    def on_client(_server, client):
        for signal, method in (("options-request", "OPTIONS"), ("describe-request", "DESCRIBE"),
                               ("setup-request", "SETUP"), ("play-request", "PLAY"),
                               ("get-parameter-request", "GET_PARAMETER"), ("teardown-request", "TEARDOWN")):
            client.connect(signal, log(method))
        client.connect("new-session", on_session)

    def expire():
        pool = server.get_session_pool()
        for session_id, seen in list(last_request.items()):
            if time.monotonic() - seen > float(options["session_timeout"]) + 0.5:
                del last_request[session_id]
                session = pool.find(session_id)
                if session is not None:
                    # Stop its media (removing it from the pool alone leaves RTP flowing), then forget it.
                    for session_media in session.filter(None, None):
                        session_media.set_state(Gst.State.NULL)
                    pool.remove(session)
                    say(f"EXPIRED {session_id}")
        return True

    server.connect("client-connected", on_client)
    if options["session_timeout"] is not None:
        GLib.timeout_add(250, expire)


def main():
    options = parse_args(sys.argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(options["port"]))
    auth = make_auth(options)
    if auth is not None:
        server.set_auth(auth)
    mounts = server.get_mount_points()
    for path, audio in MOUNTS.items():
        mounts.add_factory(path, make_factory(audio, options, auth is not None))
    watch_requests(server, options)
    if server.attach(None) == 0:
        raise SystemExit(f"could not listen on 127.0.0.1:{options['port']}")
    say("READY")
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
