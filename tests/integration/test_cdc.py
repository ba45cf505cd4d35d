"""CDC: changes in the shop database reach Bronze once each, and Silver mirrors the source tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from headwater.stack.connect import Connect
from producers.shop import connect
from tests.integration.cdc import assert_mirrors_source

pytestmark = pytest.mark.integration

def test_silver_mirrors_the_shop_tables_after_inserts_updates_and_deletes(quiet_shop, trino, count_rows):
    settings = quiet_shop
    assert Connect(settings).health().ok, Connect(settings).health().detail
    run = f"cdc-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC).replace(microsecond=123456)
    orders = [f"{run}-{i:03d}" for i in range(30)]
    updated, deleted = orders[:15], orders[20:28]
    with connect(settings) as conn:
        for i, order_id in enumerate(orders):
            with conn.transaction():
                conn.execute(
                    "insert into orders (order_id, customer_id, store_id, channel, status, items_total, "
                    "delivery_fee, campaign_id, placed_at, updated_at) values (%s, 'C000001', 'S001', %s, "
                    "'placed', %s, 2.90, %s, %s, %s)",
                    (order_id, "web" if i % 2 else "app", Decimal("7.25") + i, None if i % 3 else "K001",
                     now, now))
                for line in range(2):
                    conn.execute(
                        "insert into order_items (order_item_id, order_id, product_id, quantity, unit_price, "
                        "added_at) values (%s, %s, 'P0001', %s, 3.60, %s)",
                        (f"{order_id}-{line}", order_id, line + 1, now))
        for order_id in updated:  # two updates each: the mirror keeps the last
            for status in ("baking", "out_for_delivery"):
                later = now + timedelta(minutes=1 if status == "baking" else 2, microseconds=7)
                conn.execute("update orders set status = %s, updated_at = %s, items_total = items_total + 1 "
                             "where order_id = %s", (status, later, order_id))
        for order_id in deleted:
            with conn.transaction():
                conn.execute("delete from order_items where order_id = %s", (order_id,))
                conn.execute("delete from orders where order_id = %s", (order_id,))
        conn.execute("update order_items set quantity = 9 where order_item_id = %s", (f"{orders[0]}-0",))

    assert_mirrors_source(settings, trino, timeout=180)

    # Bronze holds each change event of this run once: 30 inserts, 2x15 updates, 8 deletes
    changes = count_rows("select count(*) from iceberg.bronze.online_orders_changes "
                         f"where from_utf8(kafka_key) like '%{run}%'")
    assert changes == 30 + 30 + 8
    ops = dict(trino.query("select json_extract_scalar(from_utf8(kafka_value), '$.op'), count(*) "
                           "from iceberg.bronze.online_orders_changes "
                           f"where from_utf8(kafka_key) like '%{run}%' group by 1"))
    assert ops == {"c": 30, "u": 30, "d": 8}
    assert count_rows(f"select count(*) from iceberg.silver.online_orders where order_id like '{run}%'") == 22
