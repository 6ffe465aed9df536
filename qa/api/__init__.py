"""The REST API (FastAPI): `create_app(settings)`; `python -m qa.api` or `qa serve` runs it."""

from qa.api.app import create_app

__all__ = ["create_app"]
