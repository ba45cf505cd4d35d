"""Send generated events to Kafka with an idempotent producer and keep a ledger of what was acknowledged.

The ledger (``<run_dir>/ledger/<run_id>.jsonl``) is the ground truth later checks reconcile
against: one line per message the broker acknowledged, with its stream, Kafka partition and
offset, event id, what it was sent as (valid, late, late_beyond_limit, duplicate, malformed
and which class) and where downstream must put it.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import json
import logging
import random
import signal
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from headwater.contracts import load_contract
from headwater.settings import Settings
from producers import clickstream, customer_feedback, equipment_metrics, inventory_updates, pos_sales
from producers.common import WeightedPicker
from producers.domain import build_domain
from producers.faults import FaultInjector, FaultPlan, Message
from producers.signals import DemandClock

GENERATORS: dict[str, Callable[..., Iterator[dict]]] = {
    "pos_sales": pos_sales.events,
    "clickstream": clickstream.events,
    "inventory_updates": inventory_updates.events,
    "customer_feedback": customer_feedback.events,
    "equipment_metrics": equipment_metrics.events,
}
#: generator steps of each stream per POS sale line, on average (a clickstream step is a whole
#: session of about five events, so 0.6 sessions make about 3 clicks per sale line)
STREAM_WEIGHTS = {"pos_sales": 1.0, "clickstream": 0.6, "inventory_updates": 0.3, "customer_feedback": 0.05,
                  "equipment_metrics": 2.0}
#: streams whose rate does not follow customer demand (sensors read around the clock)
UNSHAPED = {"equipment_metrics"}
RUN_ID_HEADER = "headwater-run-id"


class ProduceError(RuntimeError):
    """The broker could not be reached or refused the messages; the message says what to do."""


@dataclass
class ProduceOptions:
    streams: tuple[str, ...] = ("pos_sales",)
    #: messages to send in all (0: no limit)
    count: int = 0
    #: mean POS sale lines per second, other streams in proportion (0: as fast as possible)
    rate: float = 20.0
    seed: int = 42
    #: seconds to run (0: no limit)
    duration: float = 0.0
    #: simulate time from here instead of following the wall clock
    start: datetime | None = None
    #: with ``start``: simulated seconds per wall second (0: as fast as possible)
    speedup: float = 0.0
    faults: FaultPlan = field(default_factory=FaultPlan)
    #: > 0: send from a pool of this many pre-generated events per stream (throughput mode:
    #: live time, valid events only, fresh ids)
    pool: int = 0
    #: prepended to each stream's topic (benchmarks write to their own topics)
    topic_prefix: str = ""

    def __post_init__(self) -> None:
        unknown = [s for s in self.streams if s not in GENERATORS]
        if unknown:
            raise ProduceError(f"no generator for {', '.join(unknown)} (have: {', '.join(GENERATORS)})")
        if self.pool and (self.start is not None or self.faults != FaultPlan()):
            raise ProduceError("pooled sending (--pool) follows the wall clock and sends valid events only: "
                               "drop --start and the fault shares, or drop --pool")


@dataclass
class ProduceResult:
    run_id: str
    ledger: Path
    acked: int = 0
    failed: int = 0
    kinds: Counter = field(default_factory=Counter)
    #: ids of events that must be in Silver (valid and late-within-limit), per stream
    silver_ids: dict[str, set[str]] = field(default_factory=dict)
    #: seconds spent sending (from the first message to the last acknowledgement)
    seconds: float = 0.0
    #: seconds spent before the first message (master data, generator pools)
    setup_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    @property
    def event_ids(self) -> set[str]:
        """Silver-bound event ids of all streams (one stream runs have just theirs)."""
        return set().union(*self.silver_ids.values()) if self.silver_ids else set()


def plan(opts: ProduceOptions) -> Iterator[tuple[datetime, Message]]:
    """(event time, message) in event-time order across streams; deterministic for a seed and a start."""
    if opts.pool:
        from producers.pool import EventPool

        pools = [EventPool(s, opts.seed, opts.pool).messages() for s in opts.streams]
        if len(pools) == 1:
            yield from pools[0]
        else:
            yield from itertools.chain.from_iterable(zip(*pools, strict=False))
        return
    live_fast = opts.start is None and opts.rate <= 0
    start = opts.start or datetime.now(UTC)
    domain = build_domain(opts.seed)
    heap: list[tuple[datetime, int, dict]] = []
    gens: list[Iterator[dict]] = []
    clocks: list[Callable[[], datetime]] = []
    injectors: list[FaultInjector] = []
    for i, name in enumerate(opts.streams):
        contract = load_contract(name)
        rng = random.Random(f"{opts.seed}:{name}")
        if live_fast:
            clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
        else:
            rate = opts.rate if opts.rate > 0 else 1.0  # simulated time needs some pace even "as fast as possible"
            clock = DemandClock(rng, rate * STREAM_WEIGHTS[name], start, shaped=name not in UNSHAPED)
        # a stable seed per stream (str hashes vary between processes); it includes the start, so a
        # simulated run is reproduced by seed and start, and live runs never repeat each other's ids
        gen = GENERATORS[name](zlib.crc32(f"{opts.seed}:{name}:{start.isoformat()}".encode()), domain, clock)
        gens.append(gen)
        clocks.append(clock)
        injectors.append(FaultInjector(contract, opts.faults, random.Random(f"{opts.seed}:{name}:faults")))
        if not live_fast:
            event = next(gen)
            heapq.heappush(heap, (_event_time(contract, event), i, event))
    if live_fast:
        # as fast as possible, now: streams take turns in proportion to their weights
        picker = WeightedPicker(range(len(gens)), [STREAM_WEIGHTS[n] for n in opts.streams])
        rng = random.Random(f"{opts.seed}:mix")
        while True:
            i = picker.pick(rng)
            event = next(gens[i])
            now = datetime.now(UTC)
            for message in injectors[i].messages(event, now):
                yield now, message
    while heap:
        t, i, event = heapq.heappop(heap)
        for message in injectors[i].messages(event, t):
            yield t, message
        nxt = next(gens[i])
        heapq.heappush(heap, (_event_time(injectors[i].contract, nxt), i, nxt))


def _event_time(contract, event: dict) -> datetime:
    return datetime.fromisoformat(event[contract.event_time].replace("Z", "+00:00"))


def produce(settings: Settings, opts: ProduceOptions, deadline: float = 60.0, progress: bool = True,
            messages: Iterator[tuple[datetime, Message]] | None = None) -> ProduceResult:
    """Send the planned messages (or the given ones, e.g. a CSV replay); raise ProduceError
    (after the deadline) if the broker does not acknowledge them."""
    from confluent_kafka import Producer

    run_id = f"{'+'.join(opts.streams)}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    ledger_path = settings.run_dir / "ledger" / f"{run_id}.jsonl"
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    result = ProduceResult(run_id, ledger_path)
    errors: list[str] = []
    quiet = logging.getLogger("headwater.producer.client")
    quiet.setLevel(logging.CRITICAL)
    conf = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "enable.idempotence": True,  # retries never duplicate or reorder within a partition
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "lz4",
        "message.max.bytes": 4 * 1024 * 1024,  # oversized test records must reach the broker
        "delivery.timeout.ms": int(deadline * 1000),
        "logger": quiet,
    }
    conf.update(settings.kafka.client_properties)
    producer = Producer(conf)

    acked: list[tuple[Message, int, int]] = []

    def on_delivery(err, msg, message: Message) -> None:
        # kept minimal: it runs once per message; the ledger is written in bulk by drain()
        if err is not None:
            result.failed += 1
            errors.append(str(err))
        else:
            acked.append((message, msg.partition(), msg.offset()))

    def drain(ledger) -> None:
        lines = []
        kinds = result.kinds
        for message, partition, offset in acked:
            kinds[(message.stream, message.malformed_class or message.kind)] += 1
            expected = message.expected
            if expected == "silver":
                result.silver_ids.setdefault(message.stream, set()).add(message.event_id)
            # formatted by hand: json.dumps per entry is the producer's largest cost at 100k events/s
            # (stream, kind, class and expected are identifiers; event ids are quoted through json)
            cls = f'"{message.malformed_class}"' if message.malformed_class else "null"
            eid = message.event_id
            eid = "null" if eid is None else (json.dumps(eid) if '"' in eid or "\\" in eid or not eid.isascii()
                                              else f'"{eid}"')
            lines.append(f'{{"stream":"{message.stream}","partition":{partition},"offset":{offset},'
                         f'"kind":"{message.kind}","class":{cls},"event_id":{eid},"expected":"{expected}"}}')
        result.acked += len(acked)
        acked.clear()
        if lines:
            ledger.write("\n".join(lines) + "\n")

    stop = {"now": False}
    # Ctrl-C or `make down` (SIGTERM): stop sending, flush what is queued, close the ledger
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals can only be caught there
        previous = {sig: signal.signal(sig, lambda *_: stop.update(now=True))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    headers = [(RUN_ID_HEADER, run_id.encode())]
    wall_start = time.monotonic()
    paced = (opts.start is None and opts.rate > 0) or (opts.start is not None and opts.speedup > 0)
    last_report = wall_start
    sent = 0
    # the send loop makes no reference cycles; the cyclic GC would only rescan the growing id sets
    gc_was_enabled = gc.isenabled()
    gc.disable()
    with ledger_path.open("w") as ledger:
        try:
            limited = bool(opts.count or opts.duration)
            source = plan(opts) if messages is None else messages
            first = next(source, None)  # builds the domain and pools: setup, not sending
            result.setup_seconds = time.monotonic() - wall_start
            wall_start = time.monotonic()
            # pacing anchor: live events go out at their event time, simulated ones at start + t / speedup
            anchor = opts.start or datetime.now(UTC)
            speedup = opts.speedup if opts.start is not None else 1.0
            for t, message in itertools.chain([first] if first else [], source):
                if limited and ((opts.count and sent >= opts.count) or (
                        opts.duration and time.monotonic() - wall_start >= opts.duration)):
                    break
                if paced:  # send each event when its (scaled) event time comes
                    wait_until(producer, wall_start, (t - anchor).total_seconds() / speedup, stop)
                while True:
                    try:
                        # the Kafka timestamp is the arrival time lateness is measured against
                        producer.produce(opts.topic_prefix + message.stream, value=message.value, key=message.key,
                                         headers=headers, timestamp=int(t.timestamp() * 1000),
                                         on_delivery=lambda err, msg, m=message: on_delivery(err, msg, m))
                        break
                    except BufferError:  # local queue full: let deliveries drain
                        producer.poll(0.05)
                sent += 1
                if sent % 256 == 0:
                    producer.poll(0)
                    if stop["now"]:
                        break
                    if len(acked) >= 50_000:
                        drain(ledger)
                    if errors:
                        break
                    if progress and time.monotonic() - last_report >= 2:
                        last_report = time.monotonic()
                        done = result.acked + len(acked)
                        print(f"\r  {done} acknowledged, {done / (last_report - wall_start):.0f} events/s",
                              end="", file=sys.stderr, flush=True)
            # delivery reports (acknowledged or timed out) all arrive within the delivery timeout
            remaining = producer.flush(deadline + 10)
            if remaining:
                errors.append(f"{remaining} messages still unacknowledged after {deadline:.0f}s")
        finally:
            if gc_was_enabled:
                gc.enable()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            drain(ledger)
            result.seconds = time.monotonic() - wall_start
            if progress:
                print(f"\r  {result.acked} acknowledged in {result.seconds:.1f}s ({result.rate:.0f} events/s), "
                      f"ledger {ledger_path}", file=sys.stderr, flush=True)
    if errors:
        down = any(s in e for e in errors for s in ("_TRANSPORT", "TIMED_OUT", "timed out", "_ALL_BROKERS_DOWN",
                                                    "unacknowledged"))
        hint = (f" Is Kafka running at {settings.kafka.bootstrap_servers}? Try `make status` / `make up`."
                if down else "")
        raise ProduceError(f"{sent - result.acked} of {sent} messages were not acknowledged by the broker within "
                           f"{deadline:.0f}s (first error: {errors[0]}).{hint} Only the {result.acked} acknowledged "
                           f"ones are in the ledger {ledger_path}.")
    return result


def wait_until(producer, wall_start: float, due: float, stop: dict) -> None:
    """Pace: serve delivery reports until ``due`` seconds after the start, or a stop request."""
    while not stop["now"]:
        left = due - (time.monotonic() - wall_start)
        if left <= 0:
            return
        producer.poll(min(left, 0.5))


def read_ledger(path: Path) -> list[dict]:
    """The entries of a ledger file."""
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]
