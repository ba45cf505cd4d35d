"""Generators keep their contracts, faults land in their declared class, a seed reproduces a run."""

import itertools
import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from headwater.contracts import load_contract, stream_contracts
from producers.faults import MALFORMED, FaultPlan
from producers.replay import read_events
from producers.run import GENERATORS, ProduceOptions, plan

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday
ALL = tuple(c.name for c in stream_contracts())


def _messages(n: int, **kw) -> list:
    opts = ProduceOptions(streams=kw.pop("streams", ALL), rate=kw.pop("rate", 50), seed=kw.pop("seed", 7),
                          start=START, **kw)
    return list(itertools.islice(plan(opts), n))


def test_every_kafka_stream_has_a_generator():
    assert set(GENERATORS) == set(ALL)


def test_valid_events_keep_their_contract():
    seen = Counter()
    for t, m in _messages(6000):
        contract = load_contract(m.stream)
        assert m.kind == "valid"
        assert contract.classify(m.key, m.value, now=t) == [], (m.stream, m.value)
        assert set(json.loads(m.value)) == {f.name for f in contract.fields}
        seen[m.stream] += 1
    assert set(seen) == set(ALL), seen


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = [(m.stream, m.key, m.value) for _, m in _messages(2000, faults=FaultPlan(malformed=0.1, duplicates=0.1))]
    b = [(m.stream, m.key, m.value) for _, m in _messages(2000, faults=FaultPlan(malformed=0.1, duplicates=0.1))]
    c = [(m.stream, m.key, m.value) for _, m in _messages(2000, seed=8, faults=FaultPlan(malformed=0.1))]
    assert a == b
    assert a != c


def test_malformed_records_fail_in_their_declared_class():
    plan_ = FaultPlan(malformed=0.5)
    classes = Counter()
    for t, m in _messages(8000, faults=plan_):
        contract = load_contract(m.stream)
        violations = contract.classify(m.key, m.value, now=t)
        if m.kind == "malformed":
            assert violations, (m.stream, m.malformed_class)
            assert violations[0].reason == MALFORMED[m.malformed_class], (m.malformed_class, violations[0])
            classes[m.malformed_class] += 1
        else:
            assert violations == []
    assert set(classes) == set(MALFORMED), classes


def test_fault_shares_match_the_settings():
    shares = FaultPlan(late=0.1, late_beyond=0.3, duplicates=0.05, malformed=0.08, disorder=0.2)
    msgs = [m for _, m in _messages(30000, faults=shares)]
    kinds = Counter(m.kind for m in msgs)
    events = len(msgs) - kinds["duplicate"]  # each generated event gives one message, plus its resend
    assert kinds["malformed"] / events == pytest.approx(0.08, abs=0.01)
    late = kinds["late"] + kinds["late_beyond_limit"]
    assert late / events == pytest.approx(0.10, abs=0.012)
    assert kinds["late_beyond_limit"] / late == pytest.approx(0.3, abs=0.05)
    assert kinds["duplicate"] / kinds["valid"] == pytest.approx(0.05, abs=0.01)


def test_lateness_routing_matches_the_ledger_kind():
    expected = {"valid": "on_time", "duplicate": "on_time", "late": "late", "late_beyond_limit": "beyond"}
    for t, m in _messages(20000, faults=FaultPlan(late=0.2, late_beyond=0.5, disorder=0.3, duplicates=0.05)):
        if m.kind in expected:  # t is the message's Kafka timestamp, as the job sees it
            assert load_contract(m.stream).lateness(json.loads(m.value), t) == expected[m.kind], m


def test_late_events_are_late_by_the_contract():
    for t, m in _messages(20000, faults=FaultPlan(late=0.3, late_beyond=0.5)):
        if m.kind not in ("late", "late_beyond_limit"):
            continue
        contract = load_contract(m.stream)
        event_time = datetime.fromisoformat(json.loads(m.value)[contract.event_time].replace("Z", "+00:00"))
        lateness = t - event_time
        assert lateness > contract.watermark_delay
        if m.kind == "late":
            assert lateness <= contract.allowed_lateness + contract.watermark_delay * 3
        else:
            assert lateness > contract.allowed_lateness


def test_duplicates_resend_the_same_event():
    msgs = [m for _, m in _messages(5000, faults=FaultPlan(duplicates=0.2))]
    originals = {m.event_id: m.value for m in msgs if m.kind == "valid"}
    dups = [m for m in msgs if m.kind == "duplicate"]
    assert dups and all(originals[d.event_id] == d.value for d in dups)


def test_demand_follows_the_hour_of_day():
    hours = Counter()
    for t, _m in _messages(30000, streams=("pos_sales",), rate=0.3):
        hours[t.hour] += 1
    assert hours[8] > 5 * hours[3]  # breakfast rush versus the middle of the night
    assert hours[12] > hours[15]  # lunch


def test_equipment_degrades_before_failures():
    from producers.domain import build_domain
    from producers.equipment_metrics import health

    device = build_domain(7).devices[0]
    failure = device.failures[0]
    from datetime import timedelta
    assert health(device, failure - timedelta(days=4)) == 0
    assert 0 < health(device, failure - timedelta(days=2)) < health(device, failure - timedelta(hours=2)) < 1
    assert health(device, failure + timedelta(minutes=30)) == -1


def test_bad_fault_settings_are_rejected():
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(late=1.5)
    with pytest.raises(ValueError, match="unknown malformed classes"):
        FaultPlan(malformed_classes=("gremlins",))


def test_csv_sample_maps_to_the_contract(tmp_path):
    from pathlib import Path

    contract = load_contract("clickstream")
    events = read_events(Path(__file__).parent.parent / "data" / "clickstream_sample.csv", contract)
    assert len(events) == 8
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)
    for e in events:
        assert contract.validate(e) == [], e
    assert len({e["event_id"] for e in events}) == 8


def test_a_seed_reproduces_a_run_in_another_process():
    import os
    import subprocess
    import sys

    code = ("import itertools, datetime; from producers.run import plan, ProduceOptions; "
            "o = ProduceOptions(streams=('pos_sales', 'clickstream'), rate=5, seed=3, "
            "start=datetime.datetime(2026, 11, 16, tzinfo=datetime.UTC)); "
            "print([m.value.decode() for _, m in itertools.islice(plan(o), 50)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1  # str hashing differs between the two processes; the output must not
