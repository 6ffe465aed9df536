"""The REST API (FastAPI): `create_app(settings)`; `python -m qa.api` or `qa serve` runs it.

`create_app` is imported on first use: the request models (`qa.api.models`) are plain pydantic,
and `qa ask --file` checks a line's fields with them on an install without the API's extras."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from qa.api.app import create_app

        return create_app
    raise AttributeError(f"module 'qa.api' has no attribute {name!r}")
