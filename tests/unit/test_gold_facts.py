"""Gold facts and aggregates on hand-made Silver rows: point-in-time dimension joins (a price change and a
store rename mid-period), delivered online orders beside till lines, sessionisation at the 30-minute
boundary, late inventory updates, hourly equipment statistics, channel performance, campaign lift, RFM
and customer profiles. Every expected value is worked out by hand; Spark starts once for the module."""

import pytest

pytestmark = pytest.mark.unit

OPEN = "9999-12-31"


def product(pid: str, category: str, price: str, cost: str) -> dict:
    return {"product_id": pid, "name": pid, "category": category, "unit_price": price, "unit_cost": cost,
            "shelf_life_hours": 24, "active": True}


def store(name: str) -> dict:
    return {"store_id": "S1", "name": name, "city": "Lyon", "address": "1 rue Neuve", "opened_on": "2020-05-01",
            "seats": 20, "has_delivery": True}


def customer(cid: str, segment: str) -> dict:
    return {"customer_id": cid, "full_name": "Ann Example", "email": f"{cid}@example.org", "city": "Lyon",
            "segment": segment, "signed_up_on": "2026-10-01", "marketing_opt_in": True}


def pos(event: str, sale: str, product_id: str, customer_id: str | None, qty: int, price: str, discount: str,
        at: str, line: int = 1) -> dict:
    return {"event_id": event, "sale_id": sale, "line_number": line, "store_id": "S1", "product_id": product_id,
            "customer_id": customer_id, "quantity": qty, "unit_price": price, "discount": discount,
            "payment_method": "card", "sold_at": at}


def order(oid: str, status: str, updated: str, placed: str, channel: str = "web", campaign: str | None = None) -> dict:
    return {"order_id": oid, "customer_id": "C1", "store_id": "S1", "channel": channel, "status": status,
            "items_total": "11.00", "delivery_fee": "2.90", "campaign_id": campaign, "placed_at": placed,
            "updated_at": updated}


def item(iid: str, oid: str, product_id: str, qty: int, price: str, at: str) -> dict:
    return {"order_item_id": iid, "order_id": oid, "product_id": product_id, "quantity": qty, "unit_price": price,
            "added_at": at}


def click(event: str, anon: str, at: str, kind: str = "page_view", customer_id: str | None = None,
          product_id: str | None = None, order_id: str | None = None, device: str = "web_mobile",
          channel: str = "email", campaign: str | None = None, session: str = "x1", page: str = "/") -> dict:
    return {"event_id": event, "session_id": session, "anonymous_id": anon, "customer_id": customer_id,
            "event_type": kind, "page": page, "product_id": product_id, "order_id": order_id, "device": device,
            "channel": channel, "campaign_id": campaign, "occurred_at": at}


def reading(event: str, at: str, temp: float, power: float, doors: int, vibration: float, status: str) -> dict:
    return {"event_id": event, "device_id": "D1", "store_id": "S1", "device_type": "deck_oven", "temperature_c": temp,
            "power_kw": power, "door_cycles": doors, "vibration_mm_s": vibration, "status": status, "read_at": at}


def inv(event: str, kind: str, qty: int, at: str, product_id: str = "P1") -> dict:
    return {"event_id": event, "store_id": "S1", "product_id": product_id, "update_type": kind, "quantity": qty,
            "counted_at": at, "device_id": "H1"}


def sale(line: str, day: str, channel: str, category: str | None, revenue: str, qty: int = 1,
         discount: str = "0.00", sale_id: str | None = None, campaign: str | None = None,
         customer_id: str | None = None) -> dict:
    """A synthetic fact_sales row (only the columns the aggregates read)."""
    return {"sale_line_id": line, "sale_id": sale_id or line, "channel": channel, "sale_date": day,
            "sold_at": f"{day}T12:00:00Z", "category": category, "quantity": qty, "revenue": revenue,
            "discount": discount, "campaign_id": campaign, "customer_id": customer_id}


# P1 costs 2.00 until the 3rd, 2.10 from then; S1 is renamed on the 3rd; C1 turns regular on the 3rd.
MASTER = {
    "products": [["2026-11-01", [product("P1", "bread", "2.00", "0.80"), product("P2", "pastry", "5.00", "2.00")]],
                 ["2026-11-03", [product("P1", "bread", "2.10", "0.80"), product("P2", "pastry", "5.00", "2.00")]]],
    "stores": [["2026-11-01", [store("Maison A")]], ["2026-11-03", [store("Maison A II")]]],
    "customers": [["2026-11-01", [customer("C1", "new"), customer("C2", "new")]],
                  ["2026-11-03", [customer("C1", "regular"), customer("C2", "new")]]],
}

FACTS = {
    "case": "facts_and_aggregates", **MASTER, "as_of": "2026-11-03",
    "pos_sales": [
        pos("e1", "s1", "P1", "C1", 2, "2.00", "0.00", "2026-11-02T23:59:59Z"),  # the last second before the change
        pos("e2", "s2", "P1", None, 1, "2.10", "0.10", "2026-11-03T00:00:00Z"),  # the first second after it
        pos("e3", "s3", "P9", None, 1, "1.00", "0.00", "2026-11-03T10:00:00Z"),  # a product master data lacks
    ],
    "online_orders": [  # one row per status change, as CDC lands them
        order("O1", "placed", "2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z", campaign="K1"),
        order("O1", "delivered", "2026-11-02T11:00:00Z", "2026-11-02T10:00:00Z", campaign="K1"),
        order("O2", "placed", "2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z"),
        order("O2", "baking", "2026-11-02T10:05:00Z", "2026-11-02T10:00:00Z"),
        order("O3", "cancelled", "2026-11-02T10:05:00Z", "2026-11-02T10:00:00Z"),
        order("O4", "delivered", "2026-11-03T10:00:00Z", "2026-11-03T09:00:00Z", channel="app"),
    ],
    "online_order_items": [
        item("I1", "O1", "P1", 3, "2.00", "2026-11-02T10:00:00Z"),
        item("I2", "O1", "P2", 1, "5.00", "2026-11-02T10:00:00Z"),
        item("I3", "O2", "P1", 1, "2.00", "2026-11-02T10:00:00Z"),
        item("I5", "O3", "P1", 1, "2.00", "2026-11-02T10:00:00Z"),
        item("I4", "O4", "P1", 1, "2.10", "2026-11-03T09:00:00Z"),
    ],
    "clickstream": [
        click("a1", "A", "2026-11-02T10:00:00Z", campaign="K1"),
        click("a2", "A", "2026-11-02T10:29:59Z", "product_view", "C1", "P1", page="/products/P1"),  # gap 29:59
        click("a3", "A", "2026-11-02T10:59:59Z", "add_to_cart", None, "P1", channel="direct"),  # gap 30:00: new visit
        click("a4", "A", "2026-11-02T11:05:00Z", "purchase", "C1", None, "O1", channel="direct", session="x2"),
        click("b1", "B", "2026-11-02T10:10:00Z", device="ios_app", channel="direct", session="y1"),
        click("b2", "B", "2026-11-02T12:00:00Z", device="ios_app", channel="direct", session="y1"),
    ],
    "customer_feedback": [
        {"event_id": "f1", "customer_id": None, "rating": 5, "comment": "Super", "channel": "kiosk", "store_id": "S1",
         "sale_id": "s1", "reviewed_at": "2026-11-02T12:00:00Z"},
        {"event_id": "f2", "customer_id": "C1", "rating": 2, "comment": "  ", "channel": "app", "order_id": "O4",
         "reviewed_at": "2026-11-03T12:00:00Z"},
        {"event_id": "f3", "rating": 3, "channel": "web", "reviewed_at": "2026-11-04T08:00:00Z"},
    ],
    "equipment_metrics": [
        reading("m1", "2026-11-02T08:00:05Z", 230.0, 18.0, 1, 1.0, "ok"),
        reading("m2", "2026-11-02T08:30:00Z", 232.0, 20.0, 2, 2.0, "warning"),
        reading("m3", "2026-11-02T08:59:59.999Z", 240.0, 19.0, 0, 3.0, "ok"),
        reading("m4", "2026-11-02T09:00:00Z", 100.0, 0.0, 0, 0.25, "fault"),
    ],
}

INVENTORY_DAY = [
    inv("v1", "delivery", 50, "2026-11-02T06:00:00Z"), inv("v2", "count", 40, "2026-11-02T08:00:00Z"),
    inv("v3", "waste", 5, "2026-11-02T20:00:00Z"), inv("v4", "count", 12, "2026-11-02T21:00:00Z"),
    inv("v9", "waste", 3, "2026-11-03T10:00:00Z"),
]
# arriving 40 hours late: a waste and a count at the same instant as v4 (the larger event id wins the tie)
LATE = [inv("v5", "count", 15, "2026-11-02T21:00:00Z"), inv("v6", "waste", 2, "2026-11-02T23:59:59Z")]

CAMPAIGN_SALES = [
    # in-store bread: the 4 baseline days 11-06..11-09 sell 20.00; the campaign days 11-10..11-12 sell 20.00
    sale("c1", "2026-11-06", "store", "bread", "10.00", 2), sale("c2", "2026-11-08", "store", "bread", "10.00", 2),
    sale("c3", "2026-11-10", "store", "bread", "8.00", 3, "2.00"),
    sale("c4", "2026-11-11", "store", "bread", "7.00", 2, "1.00"),
    sale("c5", "2026-11-12", "store", "bread", "5.00", 1),
    sale("c6", "2026-11-13", "store", "bread", "100.00", 9),  # after as_of
    sale("c7", "2026-11-10", "store", "pastry", "50.00", 5),  # another category
    sale("c8", "2026-11-10", "web", "bread", "40.00", 4),  # online: outside K1, in K2's baseline
    sale("c9", "2026-11-11", "web", "pastry", "12.00", 1, sale_id="O9", campaign="K2"),
    sale("c10", "2026-11-12", "app", "drink", "8.00", 2),
]
CAMPAIGNS = [["2026-11-12", [
    {"campaign_id": "K1", "name": "Fête du pain", "channel": "in_store", "category": "bread", "discount_pct": 20,
     "starts_on": "2026-11-10", "ends_on": "2026-11-13"},
    {"campaign_id": "K2", "name": "Hiver", "channel": "email", "discount_pct": 10, "starts_on": "2026-11-11",
     "ends_on": "2026-11-20"},
    {"campaign_id": "K3", "name": "Goûter", "channel": "social", "discount_pct": 10, "starts_on": "2026-11-20",
     "ends_on": "2026-11-25"},
]]]

RFM_SALES = [
    *[sale(f"c1-{d}", d, "store", "bread", "10.00", customer_id="C1")
      for d in ("2026-11-29", "2026-11-20", "2026-11-10", "2026-11-01")],
    sale("c1-late", "2026-12-01", "store", "bread", "99.00", customer_id="C1"),  # after as_of
    *[sale(f"c2-{d}", d, "web", "bread", r, customer_id="C2")
      for d, r in (("2026-11-28", "20.00"), ("2026-11-15", "20.00"), ("2026-11-05", "15.00"))],
    *[sale(f"c3-{d}", d, "store", "bread", "5.00", customer_id="C3") for d in ("2026-11-20", "2026-11-19")],
    *[sale(f"c4-{d}", d, "store", "bread", r, customer_id="C4")
      for d, r in (("2026-11-01", "40.00"), ("2026-10-25", "30.00"), ("2026-10-20", "30.00"))],
    sale("c5", "2026-06-01", "store", "bread", "1.00", customer_id="C5"),
    sale("c6", "2025-11-30", "store", "bread", "500.00", customer_id="C6"),  # 365 days before: outside
    sale("anon", "2026-11-29", "store", "bread", "7.00"),  # no loyalty card
    # two lines of one receipt are one purchase
    sale("c3-b", "2026-11-20", "store", "drink", "0.00", sale_id="c3-2026-11-20", customer_id="C3"),
]

# one receipt whose second line is dated after midnight (a late or reordered till event), beside a one-day one
SPLIT_RECEIPT = [
    sale("r1-a", "2026-11-02", "store", "pastry", "5.00", sale_id="R1", customer_id="C1"),
    sale("r1-b", "2026-11-03", "store", "pastry", "5.00", sale_id="R1", customer_id="C1"),
    sale("r1-c", "2026-11-03", "store", "bread", "2.00", sale_id="R1", customer_id="C1"),
    sale("r2-a", "2026-11-03", "store", "drink", "1.00", sale_id="R2", customer_id="C1"),
]

CASES = {
    "facts": FACTS,
    "inventory": {"case": "inventory", "runs": [INVENTORY_DAY, INVENTORY_DAY + LATE]},
    "latest_orders": {"case": "latest_orders", "online_orders": [
        order("O5", "out_for_delivery", "2026-11-03T10:00:00Z", "2026-11-03T09:00:00Z"),
        order("O5", "delivered", "2026-11-03T10:00:00Z", "2026-11-03T09:00:00Z"),  # the same instant
        order("O5", "baking", "2026-11-03T09:30:00Z", "2026-11-03T09:00:00Z"),
        order("O6", "cancelled", "2026-11-03T09:10:00Z", "2026-11-03T09:00:00Z"),
        order("O6", "placed", "2026-11-03T09:00:00Z", "2026-11-03T09:00:00Z")]},
    "campaigns": {"case": "campaign_effectiveness", "fact_sales": CAMPAIGN_SALES, "campaigns": CAMPAIGNS,
                  "as_of": "2026-11-12", "baseline_days": 4},
    "rfm": {"case": "customer_segments", "fact_sales": RFM_SALES, "as_of": "2026-11-30"},
    "split_receipt": {"case": "customer_sales_daily", "fact_sales": SPLIT_RECEIPT, "as_of": "2026-11-03"},
}


@pytest.fixture(scope="module")
def out(engine):
    return engine("spark", "spark", "spark_gold_check.py", [], {"cases": CASES})


def pick(rows: list[dict], *cols: str) -> list[tuple]:
    return [tuple(r[c] for c in cols) for r in rows]


def sk(out, dim: str, key: str, valid_from: str) -> int:
    (row,) = [r for r in out["facts"]["dims"][dim] if r[dim[:-1] + "_id"] == key and r["valid_from"] == valid_from]
    return row[{"products": "product_sk", "stores": "store_sk", "customers": "customer_sk"}[dim]]


def test_sales_join_the_product_store_and_customer_versions_valid_at_sale_time(out):
    lines = {r["sale_line_id"]: r for r in out["facts"]["fact_sales"]}
    before, after, online_before, online_after = lines["e1"], lines["e2"], lines["I1"], lines["I4"]
    # one second before midnight of the change: the old price, the old store name, the new-customer version
    assert (before["product_sk"], before["list_price"], before["store_sk"], before["customer_sk"]) == \
        (sk(out, "products", "P1", "2026-11-01"), "2.00", sk(out, "stores", "S1", "2026-11-01"),
         sk(out, "customers", "C1", "2026-11-01"))
    assert (after["product_sk"], after["list_price"], after["store_sk"], after["customer_sk"]) == \
        (sk(out, "products", "P1", "2026-11-03"), "2.10", sk(out, "stores", "S1", "2026-11-03"), None)
    assert (online_before["product_sk"], online_before["list_price"]) == (sk(out, "products", "P1", "2026-11-01"),
                                                                          "2.00")
    assert (online_after["product_sk"], online_after["list_price"], online_after["customer_sk"]) == \
        (sk(out, "products", "P1", "2026-11-03"), "2.10", sk(out, "customers", "C1", "2026-11-03"))
    assert before["product_sk"] != after["product_sk"] and before["store_sk"] != after["store_sk"]


def test_fact_sales_holds_till_lines_and_delivered_online_lines(out):
    cols = ("sale_line_id", "channel", "sale_id", "line_number", "sold_at", "sale_date", "product_id", "category",
            "customer_id", "campaign_id", "payment_method", "quantity", "unit_price", "discount", "revenue", "cost",
            "margin")
    assert pick(out["facts"]["fact_sales"], *cols) == [
        ("I1", "web", "O1", 1, "2026-11-02T10:00:00", "2026-11-02", "P1", "bread", "C1", "K1", None, 3, "2.00",
         "0.00", "6.00", "2.40", "3.60"),
        ("I2", "web", "O1", 2, "2026-11-02T10:00:00", "2026-11-02", "P2", "pastry", "C1", "K1", None, 1, "5.00",
         "0.00", "5.00", "2.00", "3.00"),
        ("I4", "app", "O4", 1, "2026-11-03T09:00:00", "2026-11-03", "P1", "bread", "C1", None, None, 1, "2.10",
         "0.00", "2.10", "0.80", "1.30"),
        ("e1", "store", "s1", 1, "2026-11-02T23:59:59", "2026-11-02", "P1", "bread", "C1", None, "card", 2, "2.00",
         "0.00", "4.00", "1.60", "2.40"),
        ("e2", "store", "s2", 1, "2026-11-03T00:00:00", "2026-11-03", "P1", "bread", None, None, "card", 1, "2.10",
         "0.10", "2.00", "0.80", "1.20"),
        # unknown to the master data: kept, with NULL dimension columns for the quality gate to report
        ("e3", "store", "s3", 1, "2026-11-03T10:00:00", "2026-11-03", "P9", None, None, None, "card", 1, "1.00",
         "0.00", "1.00", None, None),
    ]
    e3 = [r for r in out["facts"]["fact_sales"] if r["sale_line_id"] == "e3"][0]
    assert (e3["product_sk"], e3["list_price"], e3["store_sk"]) == (None, None, sk(out, "stores", "S1", "2026-11-03"))


def test_an_order_is_at_its_latest_status(out):
    # two changes in one instant: the later stage of the lifecycle wins
    assert out["latest_orders"] == [{"order_id": "O5", "status": "delivered"},
                                    {"order_id": "O6", "status": "cancelled"}]


def test_web_sessions_split_at_a_30_minute_gap(out):
    cols = ("anonymous_id", "customer_id", "started_at", "ended_at", "session_date", "duration_seconds", "device",
            "sales_channel", "entry_channel", "landing_page", "campaign_id", "events", "page_views", "product_views",
            "add_to_carts", "purchases", "distinct_products", "source_sessions", "order_ids", "converted")
    sessions = out["facts"]["fact_web_sessions"]
    assert pick(sessions, *cols) == [
        # 29 min 59 s after the page view: the same visit; the customer logged in on its second event
        ("A", "C1", "2026-11-02T10:00:00", "2026-11-02T10:29:59", "2026-11-02", 1799, "web_mobile", "web", "email",
         "/", "K1", 2, 1, 1, 0, 0, 1, 1, [], False),
        # exactly 30 min later: a new visit, which spans two producer sessions
        ("A", "C1", "2026-11-02T10:59:59", "2026-11-02T11:05:00", "2026-11-02", 301, "web_mobile", "web", "direct",
         "/", None, 2, 0, 0, 1, 1, 1, 2, ["O1"], True),
        ("B", None, "2026-11-02T10:10:00", "2026-11-02T10:10:00", "2026-11-02", 0, "ios_app", "app", "direct", "/",
         None, 1, 1, 0, 0, 0, 0, 1, [], False),
        ("B", None, "2026-11-02T12:00:00", "2026-11-02T12:00:00", "2026-11-02", 0, "ios_app", "app", "direct", "/",
         None, 1, 1, 0, 0, 0, 0, 1, [], False),
    ]
    ids = [r["web_session_id"] for r in sessions]
    assert len(set(ids)) == 4 and all(len(i) == 32 for i in ids)
    assert out["facts"]["fact_web_sessions_again"] == sessions  # input order and partitioning do not matter


def test_feedback_is_joined_and_classified(out):
    cols = ("feedback_id", "review_date", "customer_sk", "store_sk", "subject", "rating", "is_positive",
            "is_negative", "has_comment")
    assert pick(out["facts"]["fact_feedback"], *cols) == [
        ("f1", "2026-11-02", None, sk(out, "stores", "S1", "2026-11-01"), "store_sale", 5, True, False, True),
        ("f2", "2026-11-03", sk(out, "customers", "C1", "2026-11-03"), None, "online_order", 2, False, True, False),
        ("f3", "2026-11-04", None, None, "general", 3, False, False, False),
    ]


def test_equipment_hourly_statistics(out):
    cols = ("device_id", "store_id", "device_type", "hour_start", "readings", "temperature_mean_c", "temperature_min_c",
            "temperature_max_c", "temperature_stddev_c", "power_mean_kw", "power_max_kw", "door_cycles",
            "vibration_mean_mm_s", "vibration_max_mm_s", "warning_readings", "fault_readings", "worst_status")
    assert pick(out["facts"]["fact_equipment_hourly"], *cols) == [
        # mean 234, deviations -4 -2 6: sample variance 56 / 2 = 28, sqrt 5.2915...
        ("D1", "S1", "deck_oven", "2026-11-02T08:00:00", 3, 234.0, 230.0, 240.0, 5.292, 19.0, 20.0, 3, 2.0, 3.0, 1, 0,
         "warning"),
        ("D1", "S1", "deck_oven", "2026-11-02T09:00:00", 1, 100.0, 100.0, 100.0, None, 0.0, 0.0, 0, 0.25, 0.25, 0, 1,
         "fault"),
    ]


def test_late_inventory_updates_change_their_day(out):
    cols = ("inventory_date", "store_id", "product_id", "delivered_units", "wasted_units", "counts", "closing_count",
            "last_counted_at", "updates")
    first, second = out["inventory"]
    assert pick(first, *cols) == [
        ("2026-11-02", "S1", "P1", 50, 5, 2, 12, "2026-11-02T21:00:00", 4),
        ("2026-11-03", "S1", "P1", 0, 3, 0, None, None, 1),
    ]
    assert pick(second, *cols) == [
        ("2026-11-02", "S1", "P1", 50, 7, 3, 15, "2026-11-02T21:00:00", 6),
        ("2026-11-03", "S1", "P1", 0, 3, 0, None, None, 1),
    ]


def test_channel_performance_per_day_and_channel(out):
    cols = ("sale_date", "channel", "revenue", "units", "lines", "orders", "customers", "avg_order_value", "discount",
            "margin", "sessions", "converted_sessions", "conversion_rate")
    assert pick(out["facts"]["channel_performance"], *cols) == [
        ("2026-11-02", "app", "0.00", 0, 0, 0, 0, None, "0.00", "0.00", 2, 0, 0.0),  # visits, no delivered order
        ("2026-11-02", "store", "4.00", 2, 1, 1, 1, "4.00", "0.00", "2.40", None, None, None),
        ("2026-11-02", "web", "11.00", 4, 2, 1, 1, "11.00", "0.00", "6.60", 2, 1, 0.5),
        ("2026-11-03", "app", "2.10", 1, 1, 1, 1, "2.10", "0.00", "1.30", 0, 0, None),
        ("2026-11-03", "store", "3.00", 2, 2, 2, 0, "1.50", "0.10", "1.20", None, None, None),
    ]


def test_customer_sales_daily_adds_up_and_counts_a_receipt_once(out):
    cols = ("sale_date", "customer_id", "store_id", "channel", "category", "purchases", "lines", "units", "revenue")
    got = pick(out["facts"]["customer_sales_daily"], *cols)
    # C1's web order O1 holds bread (3 x 2.00) and pastry (1 x 5.00): one purchase, counted on the row of its
    # smallest category; e2 carries no loyalty card and is left out
    assert got == [
        ("2026-11-02", "C1", "S1", "store", "bread", 1, 1, 2, "4.00"),
        ("2026-11-02", "C1", "S1", "web", "bread", 1, 1, 3, "6.00"),
        ("2026-11-02", "C1", "S1", "web", "pastry", 0, 1, 1, "5.00"),
        ("2026-11-03", "C1", "S1", "app", "bread", 1, 1, 1, "2.10"),
    ]


def test_customer_sales_daily_counts_a_receipt_once_per_day(out):
    # R1 has lines on two days: one purchase on each, under that day's smallest category; the purchases of
    # a day never depend on another day's lines, so a run that rebuilds one day counts the same
    cols = ("sale_date", "customer_id", "category", "purchases", "lines", "revenue")
    assert pick(out["split_receipt"]["rows"], *cols) == [
        ("2026-11-02", "C1", "pastry", 1, 1, "5.00"),
        ("2026-11-03", "C1", "bread", 1, 1, "2.00"),
        ("2026-11-03", "C1", "drink", 1, 1, "1.00"),
        ("2026-11-03", "C1", "pastry", 0, 1, "5.00"),
    ]
    assert pick(out["split_receipt"]["segments"], "customer_id", "frequency", "monetary") == [("C1", 3, "13.00")]


def test_customer_profiles(out):
    c1, c2 = out["facts"]["customer_profiles"]
    assert (c1["customer_id"], c1["segment"], c1["purchases"], c1["lines"], c1["units"], c1["revenue"],
            c1["avg_purchase_value"], c1["first_purchase_at"], c1["last_purchase_at"]) == \
        ("C1", "regular", 3, 4, 7, "17.10", "5.70", "2026-11-02T10:00:00", "2026-11-03T09:00:00")
    # bread 4.00 + 6.00 + 2.10 against pastry 5.00; revenue shares 4.00, 11.00 and 2.10 of 17.10
    assert (c1["favourite_category"], c1["favourite_store_id"], c1["store_revenue_share"], c1["web_revenue_share"],
            c1["app_revenue_share"]) == ("bread", "S1", 0.2339, 0.6433, 0.1228)
    assert (c1["reviews"], c1["avg_rating"], c1["web_sessions"], c1["last_seen_at"]) == \
        (1, 2.0, 2, "2026-11-03T12:00:00")
    assert (c2["customer_id"], c2["purchases"], c2["revenue"], c2["avg_purchase_value"], c2["favourite_category"],
            c2["store_revenue_share"], c2["reviews"], c2["avg_rating"], c2["last_seen_at"]) == \
        ("C2", 0, "0.00", None, None, None, 0, None, None)


def test_campaign_lift_against_the_baseline(out):
    cols = ("campaign_id", "campaign_days", "campaign_revenue", "campaign_units", "campaign_daily_revenue",
            "baseline_daily_revenue", "revenue_lift", "incremental_revenue", "discount_cost", "revenue_per_cost",
            "attributed_orders", "attributed_revenue")
    assert pick(out["campaigns"], *cols) == [
        # 20.00 over 3 days against 20.00 over 4: 6.67 a day against 5.00, lift 1/3; cost: 3.00 of discounts
        ("K1", 3, "20.00", 6, "6.67", "5.00", 0.3333, "5.00", "3.00", 6.6667, 0, "0.00"),
        # online, every category: 12.00 + 8.00 over 2 days against 40.00 over 4; no discount given
        ("K2", 2, "20.00", 3, "10.00", "10.00", 0.0, "0.00", "0.00", None, 1, "12.00"),
    ]


def test_rfm_scores_and_segments(out):
    cols = ("customer_id", "last_purchase_date", "recency_days", "frequency", "monetary", "r_score", "f_score",
            "m_score", "rfm_cell", "segment")
    assert pick(out["rfm"], *cols) == [
        ("C1", "2026-11-29", 1, 4, "40.00", 5, 5, 3, "553", "champions"),
        ("C2", "2026-11-28", 2, 3, "55.00", 4, 3, 4, "434", "loyal"),
        ("C3", "2026-11-20", 10, 2, "10.00", 3, 2, 2, "322", "needs_attention"),
        ("C4", "2026-11-01", 29, 3, "100.00", 2, 3, 5, "235", "at_risk"),
        ("C5", "2026-06-01", 182, 1, "1.00", 1, 1, 1, "111", "hibernating"),
    ]
