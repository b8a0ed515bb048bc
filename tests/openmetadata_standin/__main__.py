"""Serve the OpenMetadata stand-in until stopped: ``python -m tests.openmetadata_standin --port P --token T``.

Prints one line containing ``ready`` (with the URL) once it listens, so that a caller can wait
for it; stops on SIGINT or SIGTERM. OpenMetadata's JSON Schemas are read from ``--spec``, or the
folder named by ``OMINGEST_OPENMETADATA_SPEC``, or ``../shared/openmetadata-spec`` beside the
repository.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tests.openmetadata_standin.server import SERVER_VERSION, OpenMetadataStandIn
from tests.support.openmetadata_spec import resolve_spec_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.openmetadata_standin", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8585, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--token", required=True, help="the bot's bearer token (JWT) that is accepted")
    parser.add_argument("--user-token", help="a person's token (non-bot rules), optional")
    parser.add_argument("--spec", type=Path, help="folder of OpenMetadata's JSON Schemas")
    parser.add_argument("--server-version", default=SERVER_VERSION, help="version /system/version reports")
    args = parser.parse_args(argv)
    try:
        spec = args.spec or resolve_spec_dir()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    standin = OpenMetadataStandIn(spec, args.token, user_token=args.user_token, version=args.server_version,
                                  port=args.port).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"OpenMetadata stand-in ready on {standin.url}/api (version {args.server_version})", flush=True)
    stop.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
