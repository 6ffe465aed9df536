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
    args = ap.parse_args(argv)
    try:
        settings = Settings.load(api_host=args.host, api_port=args.port,
                                 flags={"api_host": "--host", "api_port": "--port"})
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    import uvicorn

    from qa.api import create_app

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning",
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
