"""A bounded map that forgets the least recently used entry first.

Caches keyed by what users ask (a question's vector, the relation paths around an entity it
names) grow with traffic; on a server that runs for weeks they must stop growing somewhere. The
bound is a count of entries, and where entries differ much in size (one entity's relation paths
are a few dozen or thousands) also a total `weight` of them (paths, not entries). Safe to share
between threads: each call holds the map's own lock for a dictionary operation only, never while
the caller computes a missing value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """`get` (None when absent; a hit becomes the most recent) and `put` (evicting the oldest
    entries beyond `max_entries`, or beyond `max_weight` in total when `weight` is given; an entry
    heavier than `max_weight` alone is not kept)."""

    def __init__(self, max_entries: int, *, weight: Callable[[V], int] | None = None,
                 max_weight: int | None = None) -> None:
        if max_entries < 1:
            raise ValueError(f"a cache needs room for at least one entry, not {max_entries}")
        if (weight is None) != (max_weight is None):
            raise ValueError("a weighed cache needs both `weight` and `max_weight`")
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._weight = weight
        self._data: OrderedDict[K, V] = OrderedDict()
        self._weights: dict[K, int] = {}
        self.total_weight = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        w = self._weight(value) if self._weight is not None else 0
        with self._lock:
            self._drop(key)
            if self.max_weight is not None and w > self.max_weight:
                return
            self._data[key] = value
            self._weights[key] = w
            self.total_weight += w
            while len(self._data) > self.max_entries or (
                    self.max_weight is not None and self.total_weight > self.max_weight):
                self._drop(next(iter(self._data)))

    def _drop(self, key: K) -> None:
        if key in self._data:
            del self._data[key]
            self.total_weight -= self._weights.pop(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weights.clear()
            self.total_weight = 0
