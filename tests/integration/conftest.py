"""Integration fixtures: the real local stack, used when it runs and started when it does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from headwater import PROJECT_ROOT
from headwater.settings import Settings, load_settings
from headwater.stack import CORE_SERVICES
from headwater.stack.proc import wait_for
from headwater.stack.runner import collect_status
from headwater.stack.trino import Trino


def _stack_healthy(settings: Settings) -> bool:
    rows = collect_status(settings)
    needed = set(CORE_SERVICES) | {"streaming"}
    return all(r["healthy"] for r in rows if r["service"] in needed)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The running local stack: `headwater up` is run when any part of it is down."""
    if not _stack_healthy(settings):
        proc = subprocess.run([sys.executable, "-m", "headwater", "up"], cwd=PROJECT_ROOT)
        assert proc.returncode == 0, "`headwater up` failed (see its output above)"
    return settings


@pytest.fixture(scope="session")
def trino(stack: Settings) -> Trino:
    return Trino(stack)


@pytest.fixture(scope="session")
def count_rows(trino: Trino) -> Callable[[str], int]:
    def count(sql: str) -> int:
        return int(trino.query(sql)[0][0])

    return count


def wait_until_equal(read: Callable[[], object], expected: object, timeout: float, what: str) -> None:
    """Poll ``read`` until it returns ``expected``; on timeout show the last value."""
    seen: list[object] = []

    def check() -> bool:
        seen.append(read())
        return seen[-1] == expected

    try:
        wait_for(check, timeout, what, interval=1.0)
    except Exception as exc:
        raise AssertionError(f"{what}: expected {expected!r}, last saw {seen[-1] if seen else None!r}") from exc


def kafka_end_offsets(settings: Settings, topic: str) -> int:
    """Records in a topic so far: the sum of its partitions' high watermarks."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "headwater-tests"})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in meta.topics[topic].partitions)
    finally:
        consumer.close()


@pytest.fixture
def producer_paused(stack: Settings):
    """Stop the background producer for a test that needs a still topic; restart it afterwards."""
    from headwater.stack.workloads import Producer

    producer = Producer(stack)
    was_running = producer.running()
    producer.stop()
    yield
    if was_running:
        producer.start()


@pytest.fixture
def caught_up(stack: Settings, producer_paused, count_rows) -> Callable[[], int]:
    """Wait until Bronze holds every record Kafka has for pos_sales (the job has caught up)."""

    def wait(timeout: float = 180) -> int:
        end = kafka_end_offsets(stack, "pos_sales")
        wait_until_equal(lambda: count_rows("select count(*) from iceberg.bronze.pos_sales"), end, timeout,
                         "bronze.pos_sales to hold every record of the topic")
        return end

    return wait


def send_pos_sales(settings: Settings, count: int, seed: int, duplicates: float = 0.0):  # -> ProduceResult
    """Send ``count`` POS sale messages as fast as the broker takes them, a share of them resent."""
    from producers.faults import FaultPlan
    from producers.run import ProduceOptions, produce

    opts = ProduceOptions(streams=("pos_sales",), count=count, rate=0, seed=seed,
                          faults=FaultPlan(duplicates=duplicates))
    return produce(settings, opts, progress=False)


def reconciled(settings: Settings, trino: Trino, ledger, timeout: float) -> list:
    """Wait until no entry of a ledger is missing downstream; fail with the account table if it stays so.

    Returns the accounts, which the caller checks for misplaced and duplicated entries.
    """
    from headwater.reconcile import reconcile, render

    def settled():
        accounts = reconcile(settings, ledger, trino.query)
        return accounts if all(a.missing == 0 for a in accounts) else None

    try:
        return wait_for(settled, timeout, "every ledger entry to reach the lakehouse", interval=3)
    except Exception:
        raise AssertionError(render(reconcile(settings, ledger, trino.query))) from None


# fixtures of one domain live in their own module (imported last: it uses the helpers above)
from tests.integration.cdc import quiet_shop  # noqa: E402,F401
