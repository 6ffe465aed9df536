"""Offline-first question answering: the application layer (types, settings, pipelines, CLI)."""

from qa.types import Answer, Question

__all__ = ["Answer", "Question"]
__version__ = "0.1.0"
