"""Quiet model loading: our command line draws its own progress, so the libraries' own bars and
expected warnings (a base model's dropped task head, a missing pooler) are noise on a terminal.
One place turns them off for a block and puts them back as they were."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_transformers(*, errors_only: bool = False) -> Iterator[None]:
    """No transformers progress bars inside the block (and, with `errors_only`, no warnings);
    a no-op without transformers."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    level, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    if errors_only:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()
