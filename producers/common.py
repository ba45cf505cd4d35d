"""Helpers every generator shares: ids, the wire format of timestamps, weighted picks."""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


def iso(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z: the wire format of every timestamp."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def new_id(rng: random.Random) -> str:
    """A UUID drawn from the seeded generator, so a seed reproduces the ids too."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class WeightedPicker:
    """Fast repeated weighted choice (cumulative weights + bisect)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect(self.cum, rng.random() * self.cum[-1])]
