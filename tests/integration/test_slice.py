"""The first slice end to end: producer → Kafka → Flink → Bronze and Silver → Trino, exactly."""

import json
import uuid

import pytest
from confluent_kafka import Producer

from tests.integration.conftest import send_pos_sales, wait_until_equal

pytestmark = pytest.mark.integration

CATCH_UP_S = 180


def bronze_count_sql(run_id: str) -> str:
    return ("select count(*) from iceberg.bronze.pos_sales "
            f"where from_utf8(element_at(kafka_headers, 'headwater-run-id')) = '{run_id}'")


def silver_counts_sql(event_ids: set[str]) -> str:
    ids = ", ".join(f"'{e}'" for e in sorted(event_ids))
    return f"select count(*), count(distinct event_id) from iceberg.silver.pos_sales where event_id in ({ids})"


def test_produced_events_land_exactly_once(stack, trino, count_rows):
    result = send_pos_sales(stack, count=2000, seed=101, duplicates=0.1)
    assert result.acked == 2000 and result.failed == 0
    assert 100 < result.kinds[("pos_sales", "duplicate")] < 300  # the resends the producer chose (~10%)
    wait_until_equal(lambda: count_rows(bronze_count_sql(result.run_id)), result.acked, CATCH_UP_S,
                     "every acknowledged record in bronze.pos_sales")
    wait_until_equal(lambda: trino.query(silver_counts_sql(result.event_ids))[0],
                     (len(result.event_ids), len(result.event_ids)), CATCH_UP_S,
                     "each distinct event once in silver.pos_sales")


def test_malformed_records_go_to_quarantine_and_bronze_keeps_them(stack, trino, count_rows):
    good = {"event_id": "q-1", "sale_id": "q-sale", "line_number": 1, "store_id": "S001", "product_id": "P0001",
            "customer_id": None, "quantity": 1, "unit_price": 2.5, "discount": 0, "payment_method": "card",
            "sold_at": "2026-11-20T08:00:00.000Z"}
    marker = f"quarantine-test-{uuid.uuid4().hex[:8]}"
    bad = {
        "invalid_json": b"{not json",
        "wrong_type": json.dumps({**good, "quantity": "two"}).encode(),
        "missing_field": json.dumps({k: v for k, v in good.items() if k != "store_id"}).encode(),
        "out_of_range": json.dumps({**good, "quantity": 1000}).encode(),
        "unknown_enum": json.dumps({**good, "payment_method": "barter"}).encode(),
        "not_utf8": b"\xff\xfe\x00garbage",
    }
    producer = Producer({"bootstrap.servers": stack.kafka.bootstrap_servers, "enable.idempotence": True})
    for reason, value in bad.items():
        producer.produce("pos_sales", value=value, key=f"{marker}:{reason}".encode())
    assert producer.flush(30) == 0
    keys = ", ".join(f"'{marker}:{r}'" for r in bad)
    wait_until_equal(
        lambda: sorted(trino.query(f"select from_utf8(kafka_key), reason from iceberg.silver.quarantine "
                                   f"where from_utf8(kafka_key) in ({keys})")),
        sorted([(f"{marker}:{r}", "invalid_utf8" if r == "not_utf8" else r) for r in bad]),
        CATCH_UP_S, "each broken record in silver.quarantine with its reason")
    # each sink commits on its own when the checkpoint completes: Bronze may show them a moment later
    wait_until_equal(lambda: count_rows(f"select count(*) from iceberg.bronze.pos_sales "
                                        f"where from_utf8(kafka_key) in ({keys})"),
                     6, CATCH_UP_S, "each broken record in bronze.pos_sales")
    raw = trino.query(f"select kafka_value from iceberg.bronze.pos_sales where from_utf8(kafka_key) = "
                      f"'{marker}:not_utf8'")[0][0]
    assert bytes(raw) == bad["not_utf8"]  # Bronze keeps the bytes exactly as received


def test_contract_views_serve_the_silver_tables(stack, count_rows):
    from headwater.contracts import stream_contracts

    # the running job commits every checkpoint: both counts come from one query, and a commit that
    # still lands between its two reads is waited out (the view must then catch up at once)
    for c in stream_contracts():
        counts = (f"select (select count(*) from iceberg.silver.{c.name}_v) "
                  f"- (select count(*) from iceberg.silver.{c.name})")
        wait_until_equal(lambda sql=counts: count_rows(sql), 0, 60, f"silver.{c.name}_v serving every row")
