"""The `qa` command line. Each sub-command lives in `qa/commands/<name>.py` and registers itself,
so the packages that own a feature also own its command."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.text import Text

from qa.core.errors import QAError


def _sane_environment() -> None:
    """What the process was given, made something the commands can use, before any console is made
    (rich reads COLUMNS once, when a console is made):
    - a standard stream closed (`qa chat <&-`, `2>&-`) is the null device: it was None, and every
      command that looked at it ended in an AttributeError traceback; standard output closed fails
      the first write to it instead (`qa.render.ClosedOutput`);
    - output in an encoding that cannot hold every character (PYTHONIOENCODING=ascii) shows "?"
      for what it cannot: an answer's "…" had been a UnicodeEncodeError traceback and no output;
    - COLUMNS=0 or one that is no number is left out: at 0, rich printed nothing, errors included."""
    import os

    if sys.stdout is None:
        from qa.render import ClosedOutput

        sys.stdout = ClosedOutput()
    for name, mode in (("stdin", "r"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - the process's own
    from qa.render import writes_unicode

    for stream in (sys.stdout, sys.stderr):
        if not writes_unicode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not (value.strip().isdigit() and int(value) > 0):
            del os.environ[name]


_sane_environment()

app = typer.Typer(
    name="qa",
    help="Offline question answering over your passages, knowledge graphs and Q&A archives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)


def _print_version(asked: bool) -> None:
    if asked:
        from qa import __version__

        typer.echo(f"qa (offline-qa) {__version__}")  # the code's own: an editable install's metadata lags
        raise typer.Exit()


@app.callback()
def _qa(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                     help="Print the version and exit.")) -> None:
    """Offline question answering over your passages, knowledge graphs and Q&A archives."""
    from qa.core.paths import private_cache

    private_cache()


def _register() -> None:
    """Every module of `qa.commands` registers its commands; a module must import nothing heavy at
    the top (torch, transformers, FAISS), so `qa --help` and input errors stay fast."""
    import qa.commands

    for info in sorted(pkgutil.iter_modules(qa.commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"qa.commands.{info.name}").register(app)
    _one_line_listings(app)


def _one_line_listings(group: typer.Typer) -> None:
    """A command's line in its group's list is its docstring's first paragraph as one line: in
    rich's markup the listing keeps the docstring's own line breaks, so at 80 columns it broke
    mid-sentence ("answered" / "questions"), and not where the terminal ends."""
    for command in group.registered_commands:
        doc = command.help or inspect.getdoc(command.callback) or ""
        if command.short_help is None and doc:
            command.short_help = " ".join(doc.split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_listings(sub.typer_instance)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one red line and exit code 2, never a traceback; Ctrl-C says
    so and exits 130, a SIGTERM (`kill`, a service manager stopping it) likewise with 143."""
    with _terminate_as_interrupt():
        return _main(argv)


_terminated = False


def terminated() -> bool:
    """Whether the KeyboardInterrupt being handled came from a SIGTERM (`kill`), not a Ctrl-C: a
    command that lets a Ctrl-C cancel one step must still stop for a `kill`."""
    return _terminated


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so what a Ctrl-C cleans up (staging folders, partial
    files, a store's transaction) is cleaned up for `kill` too, instead of the process ending
    mid-write without a word. The handler before is restored on the way out."""
    global _terminated, _stopped_note
    _terminated, _stopped_note = False, None
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        global _terminated
        _terminated = True
        raise KeyboardInterrupt

    try:
        before = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # pragma: no cover - no signals here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


# options that name a file or folder: given "" (an unset shell variable), the path is ".", and
# `qa index "$DOCS"` with DOCS unset indexed the folder the command ran in
_PATH_OPTIONS = frozenset({"--out", "--model", "--graph", "--metrics-out", "--na-probs", "--store", "--index-dir",
                           "--index", "--squad", "--scorer", "--groups", "--file", "--extra", "--context-file",
                           "--config", "--base", "--records", "--links", "--train-file", "--stack-out",
                           "--output-dir"})


def _empty_path(args: list[str]) -> str | None:
    """The option (or `qa index`'s folder) given an empty path, if any."""
    for i, arg in enumerate(args):
        if arg.split("=", 1)[0] in _PATH_OPTIONS and arg.endswith("=") and "=" in arg:
            return arg[:-1]
        if arg == "" and i and args[i - 1] in _PATH_OPTIONS:
            return args[i - 1]
    if args[:1] == ["index"] and "" in args[1:] and args[args.index("", 1) - 1] != "--name":
        return "the file or folder to index"
    return None


def _main(argv: list[str] | None) -> int:
    empty = _empty_path(sys.argv[1:] if argv is None else argv)
    if empty is not None:
        err.print(Text.assemble(("error: ", "bold red"), f"{empty} is empty (an unset shell variable?): give a path"),
                  soft_wrap=True)
        return 2
    try:
        rv = app(args=argv, prog_name="qa", standalone_mode=False)
    except QAError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc).replace("\n", " ")), soft_wrap=True)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except RuntimeError as exc:
        # pathlib's expanduser of "~name/..." for a user this system does not know, wherever a path
        # is read (a setting, an option): the settings' validators let it through as it is no ValueError
        if "home directory" not in str(exc):
            raise
        err.print(Text.assemble(("error: ", "bold red"), "a path opens with ~ or ~name for a home folder this system "
                                "cannot find: write the path out in full"), soft_wrap=True)
        return 2
    except UnicodeEncodeError as exc:  # an argument holding bytes that are no UTF-8 (`$'\xff'`), sent on as text
        if "surrogates not allowed" not in str(exc):
            raise
        err.print(Text.assemble(("error: ", "bold red"), "an argument is not valid UTF-8 text"), soft_wrap=True)
        return 2
    except OSError as exc:  # the file system refused (a folder where a file should be, no permission, disk full)
        where = f": {exc.filename}" if exc.filename else ""
        err.print(Text.assemble(("error: ", "bold red"), f"{exc.strerror or exc}{where}"), soft_wrap=True)
        return 2
    except Exception as exc:  # usage errors arrive here in non-standalone mode
        if not _is_usage_error(exc):
            raise
        err.print(Text.assemble(("error: ", "bold red"), _usage_line(exc)), soft_wrap=True)
        return 2
    if rv == INTERRUPTED:  # typer turns Ctrl-C inside a command into this exit code and returns it
        return _interrupted()
    return 0


INTERRUPTED = 130
TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process `kill` ended


# what a Ctrl-C or a `kill` ended, when it is no work left half done: `qa serve` is stopped so
_stopped_note: str | None = None


def stopped_as(note: str) -> None:
    """Say `note` ("the API stopped") instead of "stopped before finishing" when the Ctrl-C or the
    `kill` being handled ends the command: a server idle when stopped had finished nothing."""
    global _stopped_note
    _stopped_note = note


def _interrupted() -> int:
    note = _stopped_note or "stopped before finishing"
    if _terminated:
        err.print(Text(f"terminated: {note}", style="red"), soft_wrap=True)
        return TERMINATED
    err.print(Text(f"interrupted: {note}", style="red"), soft_wrap=True)
    return INTERRUPTED


def _usage_line(exc: Exception) -> str:
    """A bad command line in one line, with the command's usage (click prints four: usage, a hint,
    a blank line, the error)."""
    # a group called without a command prints its help and raises with no message of its own
    message = " ".join(exc.format_message().split()) or "no command given"  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"{message} (qa --help lists the commands)"
    usage = " ".join(ctx.get_usage().split())
    return f"{message} ({usage[0].lower()}{usage[1:]}; {ctx.command_path} --help says more)"


def _is_usage_error(exc: Exception) -> bool:
    """A bad command line (missing argument, unknown option, value out of range). Typer raises
    click's exceptions or, since it carries its own copy of click, those of `typer.TyperException`;
    both print themselves with `show()`."""
    import click

    kinds = (click.ClickException, getattr(typer, "TyperException", click.ClickException))
    return isinstance(exc, kinds) and callable(getattr(exc, "show", None))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
