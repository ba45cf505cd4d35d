"""Send generated events to Kafka with an idempotent producer and keep a ledger of what was acknowledged.

The ledger (``<run_dir>/ledger/<run_id>.jsonl``) is the ground truth later checks reconcile
against: one line per message the broker acknowledged, with its event id and how it was sent.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from headwater.contracts import load_contract
from headwater.settings import Settings
from producers import pos_sales
from producers.domain import build_domain

GENERATORS: dict[str, Callable[..., Iterator[dict]]] = {"pos_sales": pos_sales.events}
RUN_ID_HEADER = "headwater-run-id"


class ProduceError(RuntimeError):
    """The broker could not be reached or refused the messages; the message says what to do."""


@dataclass
class ProduceResult:
    run_id: str
    stream: str
    ledger: Path
    acked: int = 0
    failed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


def plan(stream: str, seed: int, count: int, duplicates: float) -> Iterator[tuple[str, dict]]:
    """(kind, event) pairs: the generator's events with resends of earlier ones mixed in."""
    gen = GENERATORS[stream](seed, build_domain(seed))
    rng = random.Random(seed ^ 0x5EED)
    sent: list[dict] = []
    produced = 0
    while count <= 0 or produced < count:
        if sent and rng.random() < duplicates:
            yield "duplicate", rng.choice(sent[-1000:])
        else:
            event = next(gen)
            sent.append(event)
            yield "valid", event
        produced += 1


def produce(settings: Settings, stream: str, count: int = 0, rate: float | None = None, seed: int | None = None,
            duplicates: float = 0.0, duration: float = 0.0, deadline: float = 60.0,
            progress: bool = True) -> ProduceResult:
    """Send ``count`` events (0 = until ``duration`` or Ctrl-C) at ``rate`` events/s (0 = as fast as possible)."""
    from confluent_kafka import Producer

    contract = load_contract(stream)
    if stream not in GENERATORS:
        raise ProduceError(f"no generator for {stream!r} yet (have: {', '.join(GENERATORS)})")
    rate = settings.producer.rate if rate is None else rate
    seed = settings.producer.seed if seed is None else seed
    run_id = f"{stream}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    ledger_path = settings.run_dir / "ledger" / f"{run_id}.jsonl"
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    result = ProduceResult(run_id, stream, ledger_path)
    errors: list[str] = []
    quiet = logging.getLogger("headwater.producer.client")
    quiet.setLevel(logging.CRITICAL)
    conf = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "enable.idempotence": True,  # retries never duplicate or reorder within a partition
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "lz4",
        "delivery.timeout.ms": int(deadline * 1000),
        "logger": quiet,
    }
    conf.update(settings.kafka.client_properties)
    producer = Producer(conf)
    ledger = ledger_path.open("w")

    def on_delivery(err, msg, kind: str, event_id: str) -> None:
        if err is not None:
            result.failed += 1
            errors.append(str(err))
            return
        result.acked += 1
        result.kinds[kind] = result.kinds.get(kind, 0) + 1
        result.event_ids.add(event_id)
        ledger.write(json.dumps({"event_id": event_id, "kind": kind, "partition": msg.partition(),
                                 "offset": msg.offset()}) + "\n")

    stop = {"now": False}
    # Ctrl-C or `make down` (SIGTERM): stop sending, flush what is queued, close the ledger
    previous = {sig: signal.signal(sig, lambda *_: stop.update(now=True)) for sig in (signal.SIGINT, signal.SIGTERM)}
    headers = [(RUN_ID_HEADER, run_id.encode())]
    start = time.monotonic()
    last_report = start
    try:
        for i, (kind, event) in enumerate(plan(stream, seed, count, duplicates)):
            if stop["now"] or (duration and time.monotonic() - start >= duration):
                break
            if rate > 0:  # pace to the target rate
                ahead = start + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            key = event.get(contract.partition_key or contract.key)
            value = json.dumps(event, separators=(",", ":")).encode()
            eid = event[contract.key]
            while True:
                try:
                    producer.produce(contract.topic, value=value, key=None if key is None else str(key).encode(),
                                     headers=headers,
                                     on_delivery=lambda err, msg, k=kind, e=eid: on_delivery(err, msg, k, e))
                    break
                except BufferError:  # local queue full: let deliveries drain
                    producer.poll(0.1)
            producer.poll(0)
            if errors and errors[0]:
                break
            if progress and time.monotonic() - last_report >= 2:
                last_report = time.monotonic()
                print(f"\r  {stream}: {result.acked} acknowledged, {result.acked / (last_report - start):.0f} events/s",
                      end="", file=sys.stderr, flush=True)
        remaining = producer.flush(deadline)
        if remaining:
            errors.append(f"{remaining} messages still unacknowledged after {deadline:.0f}s")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        result.seconds = time.monotonic() - start
        ledger.close()
        if progress:
            print(f"\r  {stream}: {result.acked} acknowledged in {result.seconds:.1f}s "
                  f"({result.rate:.0f} events/s), ledger {ledger_path}", file=sys.stderr, flush=True)
    if errors:
        kafka_down = any("_TRANSPORT" in e or "_MSG_TIMED_OUT" in e or "timed out" in e for e in errors)
        hint = (f" Is Kafka running at {settings.kafka.bootstrap_servers}? Try `make status` / `make up`."
                if kafka_down else "")
        raise ProduceError(f"{len(errors)} messages were not acknowledged (first error: {errors[0]}).{hint} "
                           f"The {result.acked} acknowledged ones are in {ledger_path}.")
    return result
