"""Offline-first question answering. `qa.core` is the floor every package stands on; the rest of
`qa` (engine, router, CLI, API) is the application on top of the sources."""

__version__ = "0.3.0"
