"""Producer throughput against the local broker, with the raw limit of the client as baseline.

    .venv/bin/python bench/producer_throughput.py [--events 1000000] [--stream pos_sales] [--rounds 3]

Each round, in one process: (1) the raw limit, confluent-kafka sending pre-serialized bytes of
the same size with no per-message work, then (2) headwater's producer in pooled mode (fresh ids
and times, delivery reports, the ledger). Both go to benchmark topics (``bench_<stream>``,
deleted afterwards) so the running ingest job is not loaded. Prints events/s, MB/s, the ratio
headwater/raw and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from headwater.settings import load_settings
from producers.pool import EventPool
from producers.run import ProduceOptions, produce

PREFIX = "bench_"


def raw_limit(conf: dict, topic: str, value: bytes, n: int) -> float:
    """Events/s of the bare client: one pre-serialized value, no callbacks, keys or headers."""
    producer = Producer(conf)
    start = time.perf_counter()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:  # the local queue is full: let deliveries drain, as headwater's producer does
                producer.poll(0.05)
        if i & 255 == 0:
            producer.poll(0)
    producer.flush(120)
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stream", default="pos_sales")
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    conf = {"bootstrap.servers": settings.kafka.bootstrap_servers, "enable.idempotence": True, "acks": "all",
            "linger.ms": 20, "compression.type": "lz4", **settings.kafka.client_properties}
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    topic = PREFIX + args.stream
    try:
        admin.list_topics(timeout=5)
    except Exception:
        print(f"Kafka is not answering at {settings.kafka.bootstrap_servers}: start it with `make up`",
              file=sys.stderr)
        return 1
    for future in admin.create_topics([NewTopic(topic, settings.kafka.topic_partitions, 1)]).values():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    ours, raws, sizes = [], [], []
    try:
        for r in range(1, args.rounds + 1):
            opts = ProduceOptions(streams=(args.stream,), count=args.events, rate=0, pool=args.pool,
                                  topic_prefix=PREFIX)
            result = produce(settings, opts, progress=False)
            assert result.acked == args.events and result.failed == 0
            with result.ledger.open() as f:  # every message acknowledged once, each with its own id
                ids = {json.loads(line)["event_id"] for line in f}
            assert len(ids) == args.events
            del ids
            result.ledger.unlink()
            result.silver_ids.clear()
            size = len(next(EventPool(args.stream, 1, 100).messages())[1].value)
            raw = raw_limit(conf, topic, b"x" * size, args.events)
            ours.append(result.rate)
            raws.append(raw)
            sizes.append(size)
            print(f"round {r}: headwater {result.rate:,.0f} events/s (after {result.setup_seconds:.1f}s building "
                  f"its pools), raw client {raw:,.0f} events/s, ratio {result.rate / raw:.2f}")
    finally:
        admin.delete_topics([topic])
    ours_m, raw_m = statistics.median(ours), statistics.median(raws)
    print(f"\n{args.stream}: {args.events:,} events of ~{sizes[0]} bytes per round, {args.rounds} rounds (median)")
    print(f"  headwater producer : {ours_m:>10,.0f} events/s  {ours_m * sizes[0] / 1e6:6.1f} MB/s")
    print(f"  raw confluent-kafka: {raw_m:>10,.0f} events/s  {raw_m * sizes[0] / 1e6:6.1f} MB/s")
    print(f"  ratio headwater/raw: {ours_m / raw_m:.2f}")
    print(f"  peak RSS           : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
