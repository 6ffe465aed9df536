"""Fixtures shared with the kb tests: the small real graph."""

from tests.kb.conftest import small_ttl  # noqa: F401  (a pytest fixture, used by name)
