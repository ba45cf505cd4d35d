"""The contract's rules give the same verdict in Python (producers, tests) and in Flink SQL (the job),
and the Spark transform computes what a hand calculation says. Engines run in-process: no services."""

import dataclasses
import json
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from headwater.contracts import REASONS, load_contract
from producers.domain import build_domain
from producers.pos_sales import events
from producers.signals import DemandClock

pytestmark = pytest.mark.unit


def _cases() -> list[tuple[bytes | None, bytes | None]]:
    gen = events(9, build_domain(9), DemandClock(random.Random(9), 5.0, datetime(2026, 11, 16, tzinfo=UTC)))
    good = [next(gen) for _ in range(20)]
    base = good[0]
    broken = [
        {**base, "quantity": "two"}, {**base, "quantity": 0}, {**base, "quantity": 51},
        {**base, "payment_method": "barter"}, {**base, "store_id": None},
        {k: v for k, v in base.items() if k != "sale_id"}, {**base, "unit_price": "abc"},
        {**base, "sold_at": "yesterday"}, {**base, "line_number": 1.5}, {**base, "discount": -1},
        {**base, "quantity": "2"}, {**base, "unit_price": 1.234}, {**base, "sold_at": "2026-11-20 07:00:00"},
        {**base, "quantity": 99999999999}, {**base, "quantity": True}, {**base, "store_id": 7},
        {**base, "store_id": {"id": 1}}, {**base, "customer_id": [1]}, {**base, "discount": None},
        {**base, "sold_at": "2099-01-01T00:00:00.000Z"}, {**base, "padding": "x" * 3000},
        # the job's own timestamp reader against datetime.fromisoformat
        {**base, "sold_at": "2026-02-30T07:00:00.000Z"}, {**base, "sold_at": "2026-11-20T24:00:00Z"},
        {**base, "sold_at": "0000-01-01T00:00:00Z"}, {**base, "sold_at": "2026-11-20T07:00:61Z"},
        {**base, "sold_at": "2026-11-20T07:00:00Z"}, {**base, "sold_at": "2024-02-29T23:59:59.999Z"},
        {**base, "sold_at": "2026-11-20T07:00:00.5Z"}, {**base, "sold_at": "2026-11-20T07:00:00.000+00:00"},
    ]
    records = [(b"key", json.dumps(e).encode()) for e in good + broken]
    records += [(b"key", v) for v in (b"not json{", b"[1, 2]", b'"just a string"', b"", None)]
    encoded = json.dumps(base).encode()
    records += [
        (None, encoded),  # no key
        (b"key", encoded.replace(b'"S0', b'"\xffS0')),  # a stray byte inside a string: JSON, but not UTF-8
        (b"key", encoded.replace(b'"S0', b'"\\u00ffS0')),  # the same character escaped: valid
    ]
    # the job's one-pass JSON reader against Python's json module
    body = encoded[:-1]  # the object without its closing brace
    records += [
        (b"key", encoded + b" trailing"),  # text after the object: not JSON
        (b"key", encoded + b" {}"),  # two objects: not one JSON object
        (b"key", body + b', "quantity": 0}'),  # a repeated key: the last one counts
        (b"key", body + b', "unit_price": 2.500}'),  # the number's value counts, not its spelling
        (b"key", body + b', "unit_price": 1e1}'),
        (b"key", body + b', "notes": {"deep": [1, {"a": null}], "s": "\\"}"}}'),  # unknown fields are skipped
        (b"key", body + b', "notes": [1, {"a": }]}'),  # ... but still have to be JSON
        (b"key", b" \n" + encoded + b"\n"),  # surrounding whitespace is fine
        # the source's event-time scan skips what comes before the field by brackets and quotes alone
        (b"key", json.dumps({"notes": {"s": "\"}{[", "a": [1, {"b": "]"}]}, **base}).encode()),
        (b"key", json.dumps(base, separators=(",", ":")).encode()),  # the producers' compact form
        (b"key", b'{"note\\u0073": "x", ' + encoded[1:]),  # an escaped key before it: the parser reads it
        (b"key", encoded.replace(b'"sold_at"', b'"sold\\u005fat"')),  # the field's own key escaped
    ]
    return records


def test_flink_sql_and_python_agree_on_every_record(engine):
    contract = dataclasses.replace(load_contract("pos_sales"), max_record_bytes=2000)
    records = _cases()
    request = {"contract": "pos_sales", "max_record_bytes": 2000,
               "records": [[None if k is None else k.hex(), None if v is None else v.hex()] for k, v in records]}
    flink = engine("flink", "flink", "flink_rule_check.py", [], request)
    reasons = set()
    for (key, value), got in zip(records, flink, strict=True):
        violations = contract.classify(key, value)
        expected = violations[0].reason if violations else None
        reasons.add(expected)
        assert got["reason"] == expected, (key, value[:300] if value else value, got)
        # the source's quick event-time read agrees with the full parse; every record has one
        assert got["event_time"] is not None
        if expected == "future_event_time":  # a broken clock: the arrival time instead
            assert got["event_time"] < got["fields"]["sold_at"]
        if expected is None:  # typed values survive the trip, and the event time is the parsed one
            assert got["event_time"] == got["fields"]["sold_at"]
            record = json.loads(value)
            assert got["fields"]["event_id"] == record["event_id"]
            assert Decimal(got["fields"]["unit_price"]) == Decimal(str(record["unit_price"]))
            assert (datetime.fromisoformat(got["fields"]["sold_at"] + "+00:00")
                    == datetime.fromisoformat(record["sold_at"].replace("Z", "+00:00")))
    assert reasons == {None, *REASONS}, "every reason code is exercised"


def test_spark_sales_daily_transform(engine):
    rows = [
        {"sale_id": "a", "store_id": "S001", "quantity": 2, "unit_price": "3.50", "discount": "0.00",
         "sold_at": "2026-11-20T07:00:00.000Z"},
        {"sale_id": "a", "store_id": "S001", "quantity": 1, "unit_price": "1.20", "discount": "0.20",
         "sold_at": "2026-11-20T07:00:00.000Z"},
        {"sale_id": "b", "store_id": "S001", "quantity": 3, "unit_price": "2.00", "discount": "0.00",
         "sold_at": "2026-11-20T23:59:59.000Z"},
        {"sale_id": "c", "store_id": "S002", "quantity": 1, "unit_price": "9.90", "discount": "0.00",
         "sold_at": "2026-11-21T00:00:01.000Z"},
    ]
    out = engine("spark", "spark", "spark_sales_daily_check.py", [], rows)
    assert out == [
        {"sale_date": "2026-11-20", "store_id": "S001", "revenue": "14.00", "units": 6, "receipts": 2, "lines": 3},
        {"sale_date": "2026-11-21", "store_id": "S002", "revenue": "9.90", "units": 1, "receipts": 1, "lines": 1},
    ]


def test_spark_schemas_follow_every_contract(engine):
    from headwater.contracts import contracts

    seen = engine("spark", "spark", "spark_schema_check.py", [], {})
    names = {"string": "string", "int": "int", "long": "bigint", "double": "double", "boolean": "boolean",
             "timestamp": "timestamp", "date": "date"}
    for c in contracts():
        expected = [[f.name, f"decimal({f.decimal[0]},{f.decimal[1]})" if f.decimal else names[f.type],
                     not f.required] for f in c.fields]
        assert seen[c.name] == expected, c.name


def test_sales_5m_aggregates_windows_in_flink(engine):
    def line(sale, store, q, price, discount, at):
        return {"event_id": f"{sale}-{at}", "sale_id": sale, "line_number": 1, "store_id": store,
                "product_id": "P0001", "customer_id": None, "quantity": q, "unit_price": price,
                "discount": discount, "payment_method": "card", "sold_at": at}

    rows = [line("a", "S001", 2, "3.50", "0.00", "2026-11-20T08:00:00.000Z"),
            line("a", "S001", 1, "1.20", "0.20", "2026-11-20T08:04:59.999Z"),
            line("b", "S001", 3, "2.00", "0.00", "2026-11-20T08:05:00.000Z"),
            line("c", "S002", 1, "9.90", "0.00", "2026-11-20T08:07:30.000Z")]
    out = engine("flink", "flink", "flink_aggregate_check.py", [], {"aggregate": "sales_5m", "rows": rows})
    got = {(r["store_id"], r["window_start"]): r for r in out}
    assert set(got) == {("S001", "2026-11-20 08:00:00.000"), ("S001", "2026-11-20 08:05:00.000"),
                        ("S002", "2026-11-20 08:05:00.000")}
    first = got[("S001", "2026-11-20 08:00:00.000")]
    assert (first["revenue"], first["units"], first["receipts"], first["lines"]) == ("8.00", "3", "1", "2")
    assert first["window_end"] == "2026-11-20 08:05:00.000"


def test_equipment_metrics_1m_flags_anomalies_in_flink(engine):
    def reading(device, temp, vibration, status, at):
        return {"event_id": f"{device}-{at}", "device_id": device, "store_id": "S001", "device_type": "deck_oven",
                "temperature_c": temp, "power_kw": "18.0", "door_cycles": 1, "vibration_mm_s": vibration,
                "status": status, "read_at": at}

    rows = [reading("D1", "230.0", "1.0", "ok", "2026-11-20T08:00:05.000Z"),
            reading("D1", "232.0", "1.5", "ok", "2026-11-20T08:00:55.000Z"),
            reading("D1", "260.0", "7.5", "ok", "2026-11-20T08:01:10.000Z"),
            reading("D2", "4.0", "0.5", "warning", "2026-11-20T08:00:30.000Z")]
    out = engine("flink", "flink", "flink_aggregate_check.py", [], {"aggregate": "equipment_metrics_1m", "rows": rows})
    got = {(r["device_id"], r["window_start"]): r for r in out}
    d1 = got[("D1", "2026-11-20 08:00:00.000")]
    assert (d1["readings"], d1["temperature_mean_c"], d1["temperature_max_c"], d1["anomaly"]) == \
        ("2", "231.0", "232.0", "FALSE")
    assert got[("D1", "2026-11-20 08:01:00.000")]["anomaly"] == "TRUE"  # vibration above 6 mm/s
    assert got[("D2", "2026-11-20 08:00:00.000")]["anomaly"] == "TRUE"  # a warning status


def test_inventory_1h_sums_movements_per_hour_in_flink(engine):
    def update(store, product, kind, q, at):
        return {"event_id": f"{store}-{product}-{kind}-{at}", "store_id": store, "product_id": product,
                "update_type": kind, "quantity": q, "counted_at": at, "device_id": None}

    rows = [update("S001", "P0001", "delivery", 40, "2026-11-20T06:10:00.000Z"),
            update("S001", "P0001", "delivery", 20, "2026-11-20T06:59:59.999Z"),
            update("S001", "P0001", "count", 35, "2026-11-20T06:30:00.000Z"),
            update("S001", "P0001", "count", 52, "2026-11-20T06:45:00.000Z"),
            update("S001", "P0001", "waste", 3, "2026-11-20T07:00:00.000Z"),
            update("S001", "P0002", "waste", 5, "2026-11-20T06:20:00.000Z")]
    out = engine("flink", "flink", "flink_aggregate_check.py", [], {"aggregate": "inventory_1h", "rows": rows})
    got = {(r["store_id"], r["product_id"], r["window_start"]): r for r in out}
    assert set(got) == {("S001", "P0001", "2026-11-20 06:00:00.000"), ("S001", "P0001", "2026-11-20 07:00:00.000"),
                        ("S001", "P0002", "2026-11-20 06:00:00.000")}
    six = got[("S001", "P0001", "2026-11-20 06:00:00.000")]
    assert (six["delivered_units"], six["wasted_units"], six["stock_counts"], six["max_counted_units"],
            six["updates"], six["window_end"]) == ("60", "0", "2", "52", "4", "2026-11-20 07:00:00.000")
    seven = got[("S001", "P0001", "2026-11-20 07:00:00.000")]
    assert (seven["wasted_units"], seven["stock_counts"], seven["max_counted_units"]) == ("3", "0", None)
