"""The `qa` command line. Each sub-command lives in `qa/commands/<name>.py` and registers itself,
so the packages that own a feature also own its command."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from qa.errors import QAError

app = typer.Typer(
    name="qa",
    help="Offline question answering over your passages, knowledge graphs and Q&A archives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("ask", "read", "index", "evaluate", "train", "kbqa", "export")
err = Console(stderr=True)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"qa.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qa.commands.{name}":
                continue
            raise
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one red line and exit code 2, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except QAError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("[red]aborted[/]")
        return 130
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.ClickException):
            exc.show()
            return 2
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
