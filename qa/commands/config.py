"""`qa config`: every setting, its value and where the value came from.

Settings are read from defaults, a TOML file, `QA_<NAME>` environment variables and flags; when an
answer surprises, the first question is which of these won, so this shows it instead of leaving
the user to reconstruct the precedence rules.

    qa config                 # a table: setting, value, origin (piped: a tab-separated line each)
    qa config --json          # the same as one JSON object {name: {value, origin}}
    qa config --markdown      # every setting with its default and what it does (the README's table)
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def config(
    as_json: bool = typer.Option(False, "--json", help="One JSON object: {name: {value, origin}}."),
    markdown: bool = typer.Option(False, "--markdown", help="The documentation table of every setting."),
) -> None:
    """Show every setting, its value and where it came from (default, settings file, environment)."""
    from qa.core.settings import Settings, origins, settings_markdown, unsecret

    if markdown and as_json:  # one of the two had been printed as if the other were not asked
        raise typer.BadParameter("give --json or --markdown, not both", param_hint="--json / --markdown")
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    settings = Settings.load()
    values = settings.model_dump(mode="json")
    where_from = origins(settings)
    values = {name: unsecret(name, value) for name, value in values.items()}
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "origin": where_from[k]} for k, v in values.items()}, indent=2))
        return
    shown = {name: json.dumps(value) if not isinstance(value, str) else value or '""' for name, value in values.items()}
    if not sys.stdout.isatty():  # piped (`qa config | grep kb_graph`): whole values, a line each, not a table cut
        for name, value in shown.items():  # to 80 columns ("/work/team.…")
            typer.echo(f"{name}\t{value}\t{where_from[name]}")
        return
    table = Table("setting", "value", "origin", show_lines=False)
    for name, value in shown.items():
        where = where_from[name]
        style = "" if where == "default" else "bold"
        table.add_row(escape(name), escape(value), escape(where), style=style)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("config")(config)
