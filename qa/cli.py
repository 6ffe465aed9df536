"""The `qa` command line. Each sub-command lives in `qa/commands/<name>.py` and registers itself,
so the packages that own a feature also own its command."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.text import Text

from qa.core.errors import QAError

app = typer.Typer(
    name="qa",
    help="Offline question answering over your passages, knowledge graphs and Q&A archives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)


def _register() -> None:
    """Every module of `qa.commands` registers its commands; a module must import nothing heavy at
    the top (torch, transformers, FAISS), so `qa --help` and input errors stay fast."""
    import qa.commands

    for info in sorted(pkgutil.iter_modules(qa.commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"qa.commands.{info.name}").register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one red line and exit code 2, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except QAError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc).replace("\n", " ")), soft_wrap=True)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print(Text("interrupted: stopped before finishing", style="red"), soft_wrap=True)
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
