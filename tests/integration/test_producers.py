"""Producers against the real broker: every fault class on, the topics read back and reconciled with the ledger."""

import os
import socket
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from confluent_kafka import Consumer, TopicPartition

from headwater import PROJECT_ROOT
from headwater.contracts import load_contract, stream_contracts
from producers.faults import MALFORMED, FaultPlan
from producers.run import RUN_ID_HEADER, ProduceOptions, produce, read_ledger

pytestmark = pytest.mark.integration


def _read_back(settings, topic: str, partition: int, first: int, last: int) -> dict[int, object]:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "headwater-reconcile",
                         "enable.auto.commit": False, "fetch.message.max.bytes": 8 * 1024 * 1024})
    consumer.assign([TopicPartition(topic, partition, first)])
    out = {}
    try:
        while True:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic}[{partition}] ended before offset {last}"
            assert msg.error() is None, msg.error()
            out[msg.offset()] = msg
            if msg.offset() >= last:
                return out
    finally:
        consumer.close()


def test_every_fault_class_reconciles_exactly_with_the_ledger(stack):
    faults = FaultPlan(late=0.06, late_beyond=0.4, disorder=0.1, duplicates=0.05, malformed=0.12)
    streams = tuple(c.name for c in stream_contracts())
    result = produce(stack, ProduceOptions(streams=streams, count=4000, rate=0, seed=404, faults=faults),
                     progress=False)
    ledger = read_ledger(result.ledger)
    assert len(ledger) == result.acked == 4000

    by_partition = defaultdict(list)
    for entry in ledger:
        by_partition[(entry["stream"], entry["partition"])].append(entry)
    classes, kinds = Counter(), Counter()
    for (stream, partition), entries in by_partition.items():
        contract = load_contract(stream)
        offsets = sorted(e["offset"] for e in entries)
        assert len(set(offsets)) == len(offsets), "an offset is in the ledger twice"
        messages = _read_back(stack, stream, partition, offsets[0], offsets[-1])
        ours = {o for o, m in messages.items() if (dict(m.headers() or []).get(RUN_ID_HEADER) or b"").decode()
                == result.run_id}
        assert ours == set(offsets), "the topic holds messages of this run the ledger lacks, or the reverse"
        for entry in entries:
            msg = messages[entry["offset"]]
            violations = contract.classify(msg.key(), msg.value())
            kinds[entry["kind"]] += 1
            if entry["kind"] == "malformed":
                classes[entry["class"]] += 1
                assert violations and violations[0].reason == MALFORMED[entry["class"]], (entry, violations[:1])
            else:
                assert violations == [], (entry, violations[:1])
    assert set(classes) == set(MALFORMED), classes
    assert {"valid", "late", "late_beyond_limit", "duplicate", "malformed"} <= set(kinds)


def test_an_unreachable_broker_fails_after_the_deadline_with_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens: the socket is bound but not listening
        env = {**os.environ, "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
               "HEADWATER_RUN_DIR": str(tmp_path)}
        proc = subprocess.run([sys.executable, "-m", "headwater", "produce", "--streams", "pos_sales", "--count",
                               "50", "--rate", "0", "--deadline", "5", "--quiet"],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "50 of 50 messages were not acknowledged" in proc.stderr and "Is Kafka running" in proc.stderr
    ledgers = list((tmp_path / "ledger").glob("*.jsonl"))
    assert ledgers and ledgers[0].read_text() == ""  # nothing unacknowledged counted as sent


def test_the_oltp_writer_inserts_updates_and_deletes_orders(stack):
    from headwater.stack.proc import wait_for
    from producers.shop import connect

    def statuses() -> set[str]:
        with connect(stack) as conn:
            return {r[0] for r in conn.execute("select distinct status from orders")}

    # orders move on every shop_step_s seconds: within a few steps some have been baked and delivered
    wait_for(lambda: {"placed", "baking"} <= statuses(), 5 * stack.producer.shop_step_s + 30,
             "orders to move from placed to baking")
    with connect(stack) as conn:
        orphans = conn.execute("select count(*) from order_items i left join orders o using (order_id) "
                               "where o.order_id is null").fetchone()[0]
        identity = conn.execute("select relreplident from pg_class where relname = 'orders'").fetchone()[0]
    assert orphans == 0  # deletes take their lines along
    assert identity == "f"  # full replica identity: CDC sees the old row of updates and deletes


def test_the_csv_sample_replays_into_kafka_in_event_time_order(stack):
    from pathlib import Path

    from producers.replay import replay_csv

    sample = Path(__file__).parent.parent / "data" / "clickstream_sample.csv"
    result = replay_csv(stack, sample, "clickstream", speedup=0, progress=False)
    entries = read_ledger(result.ledger)
    assert result.acked == len(entries) == 8
    by_partition = defaultdict(list)
    for e in entries:
        by_partition[e["partition"]].append(e)
    contract = load_contract("clickstream")
    for partition, es in by_partition.items():
        offsets = sorted(e["offset"] for e in es)
        msgs = _read_back(stack, "clickstream", partition, offsets[0], offsets[-1])
        times = [json_time(msgs[o].value(), contract.event_time) for o in offsets]
        assert times == sorted(times)  # within a partition (one session), in event-time order
        for o in offsets:
            assert contract.classify(msgs[o].key(), msgs[o].value()) == []


def json_time(value: bytes, field: str) -> str:
    import json

    return json.loads(value)[field]
