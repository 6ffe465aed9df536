"""`python -m qa.api [--host H] [--port P]`: the API alone under uvicorn (what `qa serve` starts)."""

from __future__ import annotations

import argparse
import sys

from qa.core.settings import loopback


def main(argv: list[str] | None = None) -> int:
    from qa.core.errors import QAError
    from qa.core.settings import Settings

    ap = argparse.ArgumentParser(prog="python -m qa.api", description=__doc__)
    ap.add_argument("--host", default=None)
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--quiet-stop", action="store_true", help=argparse.SUPPRESS)  # qa serve says it once
    args = ap.parse_args(argv)
    try:
        settings = Settings.load(api_host=args.host, api_port=args.port,
                                 flags={"api_host": "--host", "api_port": "--port"})
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    import math
    import os
    import signal

    import uvicorn

    from qa.api import create_app
    from qa.api.logs import configure
    from qa.api.protocol import guarded_protocol

    configure(str(settings.api_log_level))

    def stop(sig: int, _frame: object) -> None:
        """Where a Ctrl-C or a `kill` ends: uvicorn shuts down gracefully (open connections, the
        app's shutdown), puts this handler back and raises the signal again. Ended here, at once:
        returning would wait for the model loading still running in its thread and for requests
        still running, and a SIGINT re-raised into asyncio's own handler ended the process
        silently with status 0."""
        if not args.quiet_stop:
            word = "terminated" if sig == signal.SIGTERM else "interrupted"
            print(f"{word}: the API stopped", file=sys.stderr, flush=True)
        os._exit(128 + sig)

    if not settings.api_key and not loopback(settings.api_host):
        print(f"warning: listening on {settings.api_host} with no API key: anyone who reaches this port may add "
              "and delete documents and threads (set QA_API_KEY)", file=sys.stderr, flush=True)
    # on a `kill`, requests in flight get as long as any request may take before the server stops;
    # an idle kept-alive connection stays open as long as a new one may take to send its request
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.api_host, port=settings.api_port,
                                           log_config=None, access_log=False,  # ours: `qa.api.logs`
                                           timeout_graceful_shutdown=math.ceil(max(5.0, settings.request_timeout_s)),
                                           timeout_keep_alive=math.ceil(settings.api_header_timeout_s),
                                           limit_concurrency=settings.api_max_connections,
                                           http=guarded_protocol(settings.api_header_timeout_s,
                                                                 app.state.count_refused)))
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # asyncio keeps a handler that is not Python's default
    try:
        server.run()
    except SystemExit:  # uvicorn's way out when it cannot listen; its own line says why
        if server.started:
            raise
    if not server.started:
        print(f"error: the API did not start on {settings.api_host}:{settings.api_port} (see above)",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
