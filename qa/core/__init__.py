"""The floor of the project: types, errors, settings and text helpers that every layer shares.

It imports nothing else of ours, so the sources (retrieval/, kb/, mrc/, cqa/) can all stand on it
without import cycles, and the application (engine, router, CLI, API, UI) stands on all of them.
Importing it is cheap: no torch, no model, no index.
"""
