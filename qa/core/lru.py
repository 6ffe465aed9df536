"""A bounded map that forgets the least recently used entry first.

Caches keyed by what users ask (a question's vector, the relation paths around an entity it
names) grow with traffic; on a server that runs for weeks they must stop growing somewhere. The
bound is a count of entries, so it is chosen per cache from what one entry costs. Safe to share
between threads: each call holds the map's own lock for a dictionary operation only, never while
the caller computes a missing value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """`get` (None when absent; a hit becomes the most recent) and `put` (evicting the oldest
    entries beyond `max_entries`)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"a cache needs room for at least one entry, not {max_entries}")
        self.max_entries = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
