"""Waiting in tests: poll until something holds, with a deadline and a message that says what was awaited."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], what: str = "the condition", timeout: float = 45.0,
               interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy and return that; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {value!r}")
        time.sleep(interval)
        value = probe()
    return value
