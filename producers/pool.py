"""Pooled sending for throughput: events generated once, then re-issued with fresh ids and times.

Generating an event (faker pools, seeded choices, JSON) costs tens of microseconds; a pool
of pre-serialized events turns each send into a few byte concatenations, so one process can
push well over 100,000 events/s. Every message still has a unique event id and the current
time, and keeps its contract; what repeats is the rest of the payload, cycling through the pool.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from headwater.contracts import load_contract
from producers.common import iso
from producers.domain import build_domain
from producers.faults import Message
from producers.signals import DemandClock


class EventPool:
    """Pre-serialized events of one stream as (prefix, key, suffix) around the id and the time."""

    def __init__(self, stream: str, seed: int, size: int) -> None:
        from producers.run import GENERATORS

        self.contract = c = load_contract(stream)
        gen = GENERATORS[stream](seed, build_domain(seed),
                                 DemandClock(random.Random(seed), 10.0, datetime(2026, 1, 5, tzinfo=UTC), shaped=False))
        self.templates: list[tuple[bytes, bytes | None]] = []
        for event in itertools.islice(gen, size):
            body = {k: v for k, v in event.items() if k not in (c.key, c.event_time)}
            key = event.get(c.partition_key) if c.partition_key and c.partition_key != c.key else None
            # the id goes first and the event time last, so both can be spliced in as bytes
            middle = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()[1:-1]
            self.templates.append((b'",' + middle + f',"{c.event_time}":"'.encode(),
                                   None if key is None else str(key).encode()))
        self.head = f'{{"{c.key}":"'.encode()
        self.by_id_key = c.partition_key in (None, c.key)
        # ids: a random per-run prefix and a 48-bit counter, in UUID shape, unique across runs
        r = random.Random().getrandbits(64)
        self.prefix = f"{r >> 32:08x}-{r >> 16 & 0xFFFF:04x}-4{r >> 4 & 0xFFF:03x}-8{r & 0xF:01x}{r >> 8 & 0xFF:02x}-"

    def messages(self) -> Iterator[tuple[datetime, Message]]:
        stream, prefix, head, by_id = self.contract.name, self.prefix, self.head, self.by_id_key
        n = 0
        last_ms, stamp, now = -1, b"", datetime.now(UTC)
        for middle, key in itertools.cycle(self.templates):
            ms = time.time_ns() // 1_000_000
            if ms != last_ms:  # one timestamp string per millisecond
                last_ms = ms
                now = datetime.fromtimestamp(ms / 1000, UTC)
                stamp = iso(now).encode()
            n += 1
            eid = f"{prefix}{n:012x}"
            eid_b = eid.encode()
            yield now, Message(stream, eid_b if by_id else key, head + eid_b + middle + stamp + b'"}', "valid", eid)
