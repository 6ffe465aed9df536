"""The floor of the project: types, errors, settings and text helpers that every layer shares.

It imports nothing else of ours, so the sources (retrieval/, kb/, mrc/, cqa/) can all stand on it
without import cycles, and the application (engine, router, CLI, API, UI) stands on all of them.
Importing it is cheap: no torch, no model, no index.
"""

import os

# ONNX Runtime (1.29 and later) records a device id and usage events under ~/.cache/Microsoft and
# uploads them when it can; an offline product answering from a user's own documents sends nothing
# anywhere. Set before the runtime starts (it reads the variable once); a user who wants it sets
# ORT_DISABLE_TELEMETRY=0 themselves.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
