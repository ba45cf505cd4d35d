"""Real-time aggregates against an oracle: sales of a store and readings of a device that only
this test uses, sent on time, late (within the allowed lateness) and twice; the aggregate rows
must equal what the sent events add up to, and a late event must update its window."""

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from confluent_kafka import Producer

from producers.common import iso
from tests.integration.conftest import wait_until_equal

pytestmark = pytest.mark.integration


def _send(settings, topic: str, events: list[dict], key_field: str) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "enable.idempotence": True})
    for e in events:
        producer.produce(topic, key=str(e[key_field]).encode(), value=json.dumps(e).encode())
    assert producer.flush(30) == 0


def _window(ts: datetime, minutes: int) -> datetime:
    return ts.replace(minute=ts.minute - ts.minute % minutes, second=0, microsecond=0)


def _sale(store: str, sale: str, q: int, price: str, at: datetime) -> dict:
    return {"event_id": str(uuid.uuid4()), "sale_id": sale, "line_number": 1, "store_id": store,
            "product_id": "P0001", "customer_id": None, "quantity": q, "unit_price": float(price),
            "discount": 0.0, "payment_method": "card", "sold_at": iso(at)}


def _expected_sales(events: list[dict]) -> list[tuple]:
    acc = defaultdict(lambda: [Decimal("0"), 0, set(), 0])
    for e in events:
        w = _window(datetime.fromisoformat(e["sold_at"].replace("Z", "+00:00")), 5)
        a = acc[w]
        a[0] += e["quantity"] * Decimal(str(e["unit_price"]))
        a[1] += e["quantity"]
        a[2].add(e["sale_id"])
        a[3] += 1
    return sorted((w, a[0].quantize(Decimal("0.01")), a[1], len(a[2]), a[3]) for w, a in acc.items())


def test_sales_5m_adds_up_and_late_sales_update_their_window(stack, trino):
    store = f"T{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    on_time = [_sale(store, f"s{i}", i % 3 + 1, "2.50", now - timedelta(seconds=i)) for i in range(12)]
    on_time.append(dict(on_time[0]))  # sent twice: counted once
    _send(stack, "pos_sales", on_time, "sale_id")
    query = ("select window_start, revenue, units, receipts, lines from iceberg.silver.sales_5m "
             f"where store_id = '{store}'")
    wait_until_equal(lambda: sorted(tuple(r) for r in trino.query(query)), _expected_sales(on_time[:-1]), 180,
                     "silver.sales_5m rows of the test store")
    # 40 minutes late, within pos_sales' allowed lateness (1 h): a window that had no sale yet, and
    # one more sale into the window of the first batch's oldest sale, 20 minutes later than it happened
    late = [_sale(store, "late-1", 4, "3.00", now - timedelta(minutes=40)),
            _sale(store, "late-2", 1, "1.00", now - timedelta(seconds=11))]
    _send(stack, "pos_sales", late, "sale_id")
    wait_until_equal(lambda: sorted(tuple(r) for r in trino.query(query)), _expected_sales(on_time[:-1] + late),
                     180, "late sales to update their windows")


def test_equipment_metrics_1m_adds_up_and_flags_anomalies(stack, trino):
    # a made-up store too, like the other tests' events: the frozen Silver copies Gold is built from
    # leave out made-up stores, and a made-up device at a real store would fail references_resolve
    device = f"T{uuid.uuid4().hex[:6]}"
    minute = _window(datetime.now(UTC), 1) - timedelta(minutes=2)
    readings = [{"event_id": str(uuid.uuid4()), "device_id": device, "store_id": device, "device_type": "deck_oven",
                 "temperature_c": t, "power_kw": 18.0, "door_cycles": 1, "vibration_mm_s": v, "status": st,
                 "read_at": iso(minute + timedelta(seconds=s))}
                for t, v, st, s in [(230.0, 1.0, "ok", 5), (234.0, 1.2, "ok", 35), (250.0, 7.0, "ok", 65),
                                    (231.0, 1.1, "warning", 125)]]
    _send(stack, "equipment_metrics", readings, "device_id")
    query = ("select window_start, readings, temperature_mean_c, temperature_max_c, anomaly "
             f"from iceberg.silver.equipment_metrics_1m where device_id = '{device}'")
    expected = [(minute, 2, 232.0, 234.0, False), (minute + timedelta(minutes=1), 1, 250.0, 250.0, True),
                (minute + timedelta(minutes=2), 1, 231.0, 231.0, True)]
    wait_until_equal(lambda: sorted(tuple(r) for r in trino.query(query)), expected, 180,
                     "silver.equipment_metrics_1m rows of the test device")


def _inventory(store: str, kind: str, q: int, at: datetime) -> dict:
    return {"event_id": str(uuid.uuid4()), "store_id": store, "product_id": "P0001", "update_type": kind,
            "quantity": q, "counted_at": iso(at), "device_id": "H001"}


def test_inventory_40_hours_late_updates_its_hour_and_50_hours_late_is_a_late_event(stack, trino, count_rows):
    store = f"T{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    hour = (now - timedelta(hours=40)).replace(minute=0, second=0, microsecond=0)
    at = max(hour + timedelta(minutes=1), now - timedelta(hours=40, minutes=1))  # 40 h late, inside that hour
    query = ("select window_start, delivered_units, wasted_units, stock_counts, max_counted_units, updates "
             f"from iceberg.silver.inventory_1h where store_id = '{store}'")

    first = _inventory(store, "delivery", 24, at)
    _send(stack, "inventory_updates", [first], "store_id")
    wait_until_equal(lambda: [tuple(r) for r in trino.query(query)], [(hour, 24, 0, 0, None, 1)], 180,
                     "the 40-hour-late delivery in its hour")
    flagged = trino.query("select is_late from iceberg.silver.inventory_updates "
                          f"where event_id = '{first['event_id']}'")
    assert flagged == [(True,)], "Silver keeps it, flagged late"

    # a second late update of the same hour changes that row; one 50 h late (beyond 48 h) does not
    second = _inventory(store, "count", 61, at + timedelta(seconds=30))
    too_late = _inventory(store, "delivery", 500, now - timedelta(hours=50))
    _send(stack, "inventory_updates", [second, too_late], "store_id")
    wait_until_equal(lambda: [tuple(r) for r in trino.query(query)], [(hour, 24, 0, 1, 61, 2)], 180,
                     "the hour updated by the second late update")
    wait_until_equal(lambda: trino.query("select stream, lateness_seconds >= 50 * 3600, allowed_lateness_seconds "
                                         "from iceberg.silver.late_events "
                                         f"where event_id = '{too_late['event_id']}'"),
                     [("inventory_updates", True, 48 * 3600)], 180, "the 50-hour-late update in silver.late_events")
    assert count_rows("select count(*) from iceberg.silver.inventory_updates "
                      f"where event_id = '{too_late['event_id']}'") == 0
