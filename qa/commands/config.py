"""`qa config`: every setting, its value and where the value came from.

Settings are read from defaults, a TOML file, `QA_<NAME>` environment variables and flags; when an
answer surprises, the first question is which of these won, so this shows it instead of leaving
the user to reconstruct the precedence rules.

    qa config                 # a table: setting, value, origin
    qa config --json          # the same as one JSON object {name: {value, origin}}
    qa config --markdown      # every setting with its default and what it does (the README's table)
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

SECRETS = ("api_key",)
URLS = ("kb_endpoint", "api_url")
MASK = "***"


def masked_url(url: str) -> str:
    """`url` with the password of its user part replaced by the mask (the rest is what one checks)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:  # not a URL settings would have accepted; shown as it is
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def config(
    as_json: bool = typer.Option(False, "--json", help="One JSON object: {name: {value, origin}}."),
    markdown: bool = typer.Option(False, "--markdown", help="The documentation table of every setting."),
) -> None:
    """Show every setting, its value and where it came from (default, settings file, environment)."""
    from qa.core.settings import Settings, origins, settings_markdown

    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    settings = Settings.load()
    values = settings.model_dump(mode="json")
    where_from = origins(settings)
    for name in SECRETS:
        # whether a key is set and where from is what one checks; the key itself would land in
        # terminal scrollback, shell logs and pasted bug reports
        if values.get(name):
            values[name] = MASK
    for name in URLS:  # an endpoint may carry its credentials (http://user:password@host/...)
        if values.get(name):
            values[name] = masked_url(values[name])
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "origin": where_from[k]} for k, v in values.items()}, indent=2))
        return
    table = Table("setting", "value", "origin", show_lines=False)
    for name, value in values.items():
        where = where_from[name]
        style = "" if where == "default" else "bold"
        table.add_row(escape(name), escape(json.dumps(value) if not isinstance(value, str) else value or '""'),
                      escape(where), style=style)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("config")(config)
