"""`python -m qa.api [--host H] [--port P]`: the API alone under uvicorn (what `qa serve` starts)."""

from __future__ import annotations

import argparse
import sys


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
    import signal

    import uvicorn

    from qa.api import create_app

    class Server(uvicorn.Server):
        """Remembers the signal that stopped it: uvicorn shuts down gracefully and returns, and the
        SIGINT it re-raises afterwards only reaches asyncio's own handler, so a Ctrl-C would end
        the process silently with status 0."""

        stopped_by: int | None = None

        def handle_exit(self, sig: int, frame: object) -> None:
            self.stopped_by = self.stopped_by or sig
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    server = Server(uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                                   log_level="warning", timeout_graceful_shutdown=5,
                                   limit_concurrency=settings.api_max_connections))
    signal.signal(signal.SIGTERM, lambda *_: None)  # what uvicorn restores and re-raises into after a `kill`
    try:
        server.run()
    except KeyboardInterrupt:
        server.stopped_by = server.stopped_by or signal.SIGINT
    except SystemExit:  # uvicorn's way out when it cannot listen; its own line says why
        if server.started:
            raise
    if server.stopped_by is not None:
        if not args.quiet_stop:
            word = "terminated" if server.stopped_by == signal.SIGTERM else "interrupted"
            print(f"{word}: the API stopped", file=sys.stderr)
        return 128 + int(server.stopped_by)
    if not server.started:
        print(f"error: the API could not listen on {settings.api_host}:{settings.api_port} (see above)",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
