"""A small thread-safe least-recently-used cache (answers and chart images of the page: the
same answer is asked for again by its downloads, its charts and a reload), and `per_plan`,
a command's result remembered per plan."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class LRU:
    """The last `size` values by key."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def per_plan(fn: Callable[[Any], Any], size: int = 32) -> Callable[[Any], Any]:
    """`fn(plan)` remembered for the last `size` plans, so a page request that needs a
    command's whole result twice (its ``--json`` part for the record, all of it for the
    table text) computes it once.  The key is the (frozen, hashable) plan and the model its
    MODEL names in this request: a pasted config.json may share its name with another."""
    cache = LRU(size)

    def call(plan):
        from planner.model.resolve import resolve_model
        model = getattr(plan, "model", None)
        key = (plan, resolve_model(model) if isinstance(model, str) else None)
        value = cache.get(key)
        if value is None:
            value = fn(plan)
            cache.put(key, value)
        return value

    call.cache = cache
    return call
