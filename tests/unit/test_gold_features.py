"""Gold ML features are point-in-time correct: a row for day (hour) T is computed from data up to T,
labels look ahead and are NULL when their horizon is not in the data. Values worked out by hand;
Spark starts once for the module."""

import pytest

pytestmark = pytest.mark.unit


def product(pid: str, category: str, price: str) -> dict:
    return {"product_id": pid, "name": pid, "category": category, "unit_price": price, "unit_cost": "0.50",
            "shelf_life_hours": 24, "active": True}


def store(city: str) -> dict:
    return {"store_id": "S1", "name": "Maison A", "city": city, "address": "1 rue Neuve", "opened_on": "2020-05-01",
            "seats": 20, "has_delivery": True}


def weather(city: str, day: str, t_max: float, t_min: float, rain: float, condition: str) -> dict:
    return {"weather_id": f"{city}:{day}", "city": city, "date": day, "temp_max_c": t_max, "temp_min_c": t_min,
            "precipitation_mm": rain, "condition": condition}


def sale(day: str, qty: int = 1, product_id: str = "P1", customer_id: str | None = None, revenue: str = "1.00",
         sale_id: str | None = None) -> dict:
    """A synthetic fact_sales row (only the columns the features read)."""
    return {"sale_line_id": sale_id or f"{customer_id}-{product_id}-{day}",
            "sale_id": sale_id or f"{customer_id}-{day}", "channel": "store", "store_id": "S1",
            "product_id": product_id, "customer_id": customer_id, "sale_date": day, "sold_at": f"{day}T12:00:00Z",
            "quantity": qty, "revenue": revenue}


P1_UNITS = {"2026-10-31": 50, "2026-11-01": 5, "2026-11-15": 3, "2026-11-22": 4, "2026-11-28": 2, "2026-11-29": 6,
            "2026-11-30": 1, "2026-12-01": 100}
DEMAND_SALES = [sale(d, q) for d, q in P1_UNITS.items()] + [sale("2026-11-30", 2, "P2")]

DEMAND = {
    "case": "features_demand", "start": "2026-11-29", "end": "2026-11-30",
    "products": [["2026-11-01", [product("P1", "bread", "2.00"), product("P2", "pastry", "4.00")]],
                 ["2026-11-30", [product("P1", "bread", "2.20"), product("P2", "pastry", "4.00")]]],
    "stores": [["2026-11-01", [store("Lyon")]], ["2026-11-30", [store("Paris")]]],  # the store moves on the 30th
    "customers": [["2026-11-01", []]],
    "weather": [["2026-11-29", [weather("Lyon", "2026-11-29", 8.0, 2.0, 5.0, "rain")]],
                ["2026-11-30", [weather("Lyon", "2026-11-30", 6.0, 1.0, 30.0, "storm"),
                                weather("Paris", "2026-11-30", 10.0, 3.0, 0.0, "sunny")]]],
    "campaigns": [["2026-11-20", [
        {"campaign_id": "K1", "name": "Fête du pain", "channel": "in_store", "category": "bread", "discount_pct": 20,
         "starts_on": "2026-11-30", "ends_on": "2026-12-05"},
        {"campaign_id": "K2", "name": "Hiver", "channel": "email", "discount_pct": 5, "starts_on": "2026-12-01",
         "ends_on": "2026-12-02"}]]],
    # the second run adds 50 units on the 30th: only the 29th's label and the 30th's own row may move
    "runs": [DEMAND_SALES, DEMAND_SALES + [sale("2026-11-30", 50, sale_id="extra")]],
}


def hour(h: str, temp: float, warnings: int = 0, faults: int = 0, day: str = "2026-11-20") -> dict:
    return {"device_id": "D1", "store_id": "S1", "device_type": "deck_oven", "hour_start": f"{day}T{h}:00:00Z",
            "readings": 10, "temperature_mean_c": temp, "vibration_mean_mm_s": 1.0, "vibration_max_mm_s": 2.0,
            "power_mean_kw": 18.0, "warning_readings": warnings, "fault_readings": faults}


EQUIPMENT = {
    "case": "features_equipment", "horizon_hours": 3,
    "equipment": [["2026-11-20", [{"device_id": "D1", "store_id": "S1", "device_type": "deck_oven", "model": "M1",
                                   "installed_on": "2026-11-01"}]]],
    "hourly": [hour("00", 200.0), hour("01", 200.0), hour("02", 200.0), hour("03", 210.0, warnings=2),
               hour("04", 100.0, faults=3), hour("05", 100.0, faults=3), hour("06", 190.0), hour("10", 200.0)],
}

CHURN = {
    "case": "features_churn", "observation_dates": ["2026-11-01", "2026-11-27", "2026-12-01"],
    "fact_sales": [
        sale("2026-10-01", customer_id="C1", revenue="20.00"), sale("2026-10-20", customer_id="C1", revenue="10.00"),
        sale("2026-11-10", customer_id="C1", revenue="5.00"), sale("2026-11-25", customer_id="C1", revenue="5.00"),
        sale("2026-10-05", customer_id="C2", revenue="15.00"),
        sale("2026-11-28", customer_id="C3", revenue="7.00"),
        sale("2026-12-27", customer_id="C9", revenue="1.00"),  # the last day of data
        sale("2026-11-20", revenue="3.00"),  # no loyalty card
    ],
}


def click(event: str, customer_id: str | None, kind: str, product_id: str | None, at: str) -> dict:
    return {"event_id": event, "session_id": "x", "anonymous_id": "a", "customer_id": customer_id, "event_type": kind,
            "page": "/", "product_id": product_id, "device": "web_desktop", "channel": "direct", "occurred_at": at}


INTERACTIONS = {
    "case": "features_interactions", "as_of": "2026-11-10",
    "clickstream": [
        click("k1", "C1", "product_view", "P1", "2026-11-05T10:00:00Z"),
        click("k2", "C1", "product_view", "P1", "2026-11-05T10:01:00Z"),
        click("k3", "C1", "add_to_cart", "P1", "2026-11-06T09:00:00Z"),
        click("k8", "C1", "remove_from_cart", "P1", "2026-11-06T09:05:00Z"),
        click("k4", "C1", "product_view", "P2", "2026-11-11T09:00:00Z"),  # after as_of
        click("k5", "C2", "add_to_cart", "P3", "2026-11-09T18:00:00Z"),
        click("k6", None, "product_view", "P1", "2026-11-05T10:00:00Z"),  # not logged in
        click("k7", "C1", "page_view", None, "2026-11-05T09:59:00Z"),
        click("k9", "C3", "product_view", "P4", "2026-08-01T10:00:00Z"),  # older than the 90-day lookback
    ],
    "fact_sales": [
        sale("2026-11-08", 2, "P1", "C1", sale_id="s1"),
        sale("2026-11-12", 1, "P2", "C1", sale_id="s2"),  # future, and no past interaction with P2
        sale("2026-11-15", 1, "P3", "C2", sale_id="s3"),  # within the 7 days after as_of
        sale("2026-11-17", 1, "P9", "C9", sale_id="s4"),  # the last day of data
    ],
}

# a 5-day lookback: the snapshot of 11-10 counts 11-06..11-10, the one of 11-09 counted 11-05..11-09
FOLD = {
    "case": "interactions_fold", "as_of": "2026-11-10", "lookback_days": 5,
    "clickstream": [
        click("f1", "C1", "product_view", "P1", "2026-11-05T10:00:00Z"),  # leaves, but C1 adds P1 to cart later
        click("f2", "C1", "add_to_cart", "P1", "2026-11-07T09:00:00Z"),
        click("f3", "C1", "product_view", "P2", "2026-11-05T11:00:00Z"),  # leaves, and nothing else: the pair goes
        click("f4", "C2", "remove_from_cart", "P3", "2026-11-06T09:00:00Z"),  # counted, no latest interaction
        click("f5", "C2", "product_view", "P1", "2026-11-08T10:00:00Z"),
        click("f6", "C3", "page_view", "P4", "2026-11-09T10:00:00Z"),  # a row of zeros
        click("f7", "C4", "product_view", "P5", "2026-11-10T08:00:00Z"),  # new on the folded day
        click("f8", "C2", "product_view", "P1", "2026-11-10T07:00:00Z"),
        click("f9", None, "product_view", "P1", "2026-11-10T07:00:00Z"),
    ],
    "fact_sales": [
        sale("2026-11-05", 2, "P1", "C1", sale_id="t1"),  # leaves with the view
        sale("2026-11-10", 1, "P1", "C2", sale_id="t2"),
        sale("2026-11-06", 3, "P6", "C5", sale_id="t3"),
        sale("2026-11-12", 1, "P6", "C5", sale_id="t4"),  # within the label horizon
        sale("2026-11-17", 1, "P9", "C9", sale_id="t5"),  # the last day of data
    ],
}

# the snapshot of 11-10 was built; since then C2's order was cancelled (its line leaves), C1 bought P1 again on
# 11-10 and P1 on 11-13 (the label), C4 viewed P5: the changed pairs are those of these lines and clicks
CHANGES = {
    "case": "interactions_changes", "as_of": "2026-11-10",
    "clickstream_before": [click("g1", "C3", "product_view", "P3", "2026-11-09T10:00:00Z")],
    "clickstream": [click("g1", "C3", "product_view", "P3", "2026-11-09T10:00:00Z"),
                    click("g2", "C4", "product_view", "P5", "2026-11-10T09:00:00Z")],
    "fact_sales_before": [
        sale("2026-11-08", 2, "P1", "C1", sale_id="u1"),
        sale("2026-11-09", 1, "P2", "C2", sale_id="u2"),  # cancelled since
        sale("2026-11-12", 1, "P3", "C3", sale_id="u3"),
        sale("2026-11-17", 1, "P9", "C9", sale_id="u4"),  # the last day of data: the labels are known
    ],
    "fact_sales": [
        sale("2026-11-08", 2, "P1", "C1", sale_id="u1"),
        sale("2026-11-12", 1, "P3", "C3", sale_id="u3"),
        sale("2026-11-17", 1, "P9", "C9", sale_id="u4"),
        sale("2026-11-10", 3, "P1", "C1", sale_id="u5"),
        sale("2026-11-13", 1, "P1", "C1", sale_id="u6"),
        sale("2026-11-14", 1, "P4", "C1", sale_id="u7"),  # a purchase after the day: no interaction up to it
    ],
    "pairs": [("C1", "P1"), ("C2", "P2"), ("C4", "P5"), ("C1", "P4")],
}
# the same, but the last day of data (11-17) arrives with the changes: every label of 11-10 becomes known, so
# every pair is rebuilt (pairs None), C3 x P3 too though nothing of it changed
KNOWN = {**CHANGES, "fact_sales_before": CHANGES["fact_sales_before"][:3], "pairs": None}

# a one-day run on 11-10 also rebuilds the days whose label horizon 11-10 closes: churn's 10-11 (30 days),
# the interactions' 11-03 (7 days); C4's sale makes 11-10 the last day of data
CLOSED = {
    "case": "closed_horizon", "day": "2026-11-10",
    "fact_sales": [
        sale("2026-10-05", customer_id="C1"), sale("2026-11-02", customer_id="C1"),
        sale("2026-11-05", customer_id="C1"),
        sale("2026-10-01", product_id="P3", customer_id="C2"), sale("2026-11-03", product_id="P3", customer_id="C2"),
        sale("2026-10-10", customer_id="C3"),
        sale("2026-11-10", product_id="P2", customer_id="C4"),
    ],
    # the equipment label looks 24 h ahead: the run of 11-10 rebuilds 11-09
    "equipment": EQUIPMENT["equipment"],
    "hourly": [hour("04", 200.0, day="2026-11-09"), hour("10", 200.0, day="2026-11-09"),
               hour("23", 200.0, day="2026-11-09"), hour("00", 200.0, day="2026-11-10"),
               hour("05", 100.0, faults=3, day="2026-11-10"), hour("06", 190.0, day="2026-11-10"),
               hour("23", 200.0, day="2026-11-10")],
}

# the same inputs for a two-day window (a catch-up over late data, a backfill, --full): an as-of snapshot per day
WINDOW = {**CLOSED, "start": "2026-11-09", "tables": ("features_interactions", "customer_segments")}

CASES = {"demand": DEMAND, "equipment": EQUIPMENT, "churn": CHURN, "interactions": INTERACTIONS, "fold": FOLD,
         "changes": CHANGES, "known": KNOWN, "closed": CLOSED, "window": WINDOW}


@pytest.fixture(scope="module")
def out(engine):
    return engine("spark", "spark", "spark_gold_check.py", [], {"cases": CASES})


def pick(rows: list[dict], *cols: str) -> list[tuple]:
    return [tuple(r[c] for c in cols) for r in rows]


DEMAND_COLS = ("product_id", "sale_date", "units", "units_lag_1", "units_lag_7", "units_lag_14", "units_lag_28",
               "units_mean_7d", "units_std_7d", "units_mean_28d", "units_std_28d", "label_units_next_day")


def test_demand_lags_and_rolling_windows(out):
    first, _ = out["demand"]
    assert pick(first, *DEMAND_COLS) == [
        # D-1 = 28th: 2, D-7 = 22nd: 4, D-14 = 15th: 3, D-28 = 1st: 5; 23rd..29th: 0 0 0 0 0 2 6
        ("P1", "2026-11-29", 6, 2, 4, 3, 5, 1.1429, 2.2678, 0.5357, 1.4525, 1),
        # the last day: no label (the 1st of December is past `end`, its 100 units are not read)
        ("P1", "2026-11-30", 1, 6, 0, 0, 0, 1.2857, 2.2147, 0.5714, 1.4511, None),
        # days without sales are rows with 0 units
        ("P2", "2026-11-29", 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 2),
        ("P2", "2026-11-30", 2, 0, 0, 0, 0, 0.2857, 0.7559, 0.0714, 0.378, None),
    ]


def test_demand_row_for_a_day_uses_data_up_to_that_day_only(out):
    first, second = out["demand"]
    before = {(r["product_id"], r["sale_date"]): r for r in first}
    after = {(r["product_id"], r["sale_date"]): r for r in second}
    p1_29_before, p1_29_after = before[("P1", "2026-11-29")], after[("P1", "2026-11-29")]
    # 50 more units on the 30th: the 29th's label sees them, none of its features do
    assert (p1_29_before["label_units_next_day"], p1_29_after["label_units_next_day"]) == (1, 51)
    assert {k: v for k, v in p1_29_after.items() if k != "label_units_next_day"} == \
        {k: v for k, v in p1_29_before.items() if k != "label_units_next_day"}
    assert after[("P1", "2026-11-30")]["units"] == 51
    assert after[("P2", "2026-11-29")] == before[("P2", "2026-11-29")]


def test_demand_context_is_the_one_valid_on_the_day(out):
    cols = ("product_id", "sale_date", "city", "category", "list_price", "temp_max_c", "precipitation_mm",
            "weather_condition", "promo_today", "promo_next_day", "promo_discount_pct", "day_of_week", "is_weekend",
            "next_day_of_week", "next_day_is_weekend")
    assert pick(out["demand"][0], *cols) == [
        ("P1", "2026-11-29", "Lyon", "bread", "2.00", 8.0, 5.0, "rain", False, True, 0, 7, True, 1, False),
        # moved to Paris and repriced on the 30th; the bread campaign runs
        ("P1", "2026-11-30", "Paris", "bread", "2.20", 10.0, 0.0, "sunny", True, True, 20, 1, False, 2, False),
        ("P2", "2026-11-29", "Lyon", "pastry", "4.00", 8.0, 5.0, "rain", False, False, 0, 7, True, 1, False),
        # an every-category campaign starts tomorrow
        ("P2", "2026-11-30", "Paris", "pastry", "4.00", 10.0, 0.0, "sunny", False, True, 0, 1, False, 2, False),
    ]


def test_equipment_failure_label_and_history(out):
    cols = ("hour_start", "in_fault", "temperature_mean_6h", "abnormal_readings_24h", "hours_observed_24h",
            "hours_since_maintenance", "label_failure_next_24h")
    assert pick(out["equipment"], *cols) == [
        # installed on the 1st: 19 days = 456 hours before the 20th; the fault starts at 04:00
        ("2026-11-20T00:00:00", False, 200.0, 0, 1, 456, False),  # 01..03: no fault starts
        ("2026-11-20T01:00:00", False, 200.0, 0, 2, 457, True),
        ("2026-11-20T02:00:00", False, 200.0, 0, 3, 458, True),
        ("2026-11-20T03:00:00", False, 202.5, 2, 4, 459, True),
        ("2026-11-20T04:00:00", True, 182.0, 5, 5, 0, False),  # 05:00 continues the fault: no new start
        ("2026-11-20T05:00:00", True, 168.333, 8, 6, 0, False),
        ("2026-11-20T06:00:00", False, 166.667, 8, 7, 0, False),  # repaired: the clock restarts
        ("2026-11-20T10:00:00", False, 163.333, 8, 8, 4, None),  # 11:00..13:00 are not in the data
    ]


def test_churn_features_and_label(out):
    cols = ("obs_date", "customer_id", "last_purchase_date", "recency_days", "tenure_days", "purchases_30d",
            "purchases_prev_30d", "purchases_90d", "purchases_trend", "revenue_30d", "revenue_prev_30d", "revenue_90d",
            "revenue_trend", "avg_purchase_value_90d", "label_churned")
    assert pick(out["churn"], *cols) == [
        ("2026-11-01", "C1", "2026-10-20", 12, 31, 1, 1, 2, 0, "10.00", "20.00", "30.00", "-10.00", "15.00", False),
        ("2026-11-01", "C2", "2026-10-05", 27, 27, 1, 0, 1, 1, "15.00", "0.00", "15.00", "15.00", "15.00", True),
        # C3 first buys on the 28th: no row on the 27th, though its purchase is in the label window
        ("2026-11-27", "C1", "2026-11-25", 2, 57, 2, 2, 4, 0, "10.00", "30.00", "40.00", "-20.00", "10.00", True),
        ("2026-11-27", "C2", "2026-10-05", 53, 53, 0, 1, 1, -1, "0.00", "15.00", "15.00", "-15.00", "15.00", True),
        # 30 days after the 1st of December pass the last day of data (27th): no label
        ("2026-12-01", "C1", "2026-11-25", 6, 61, 2, 1, 4, 1, "10.00", "10.00", "40.00", "0.00", "10.00", None),
        ("2026-12-01", "C2", "2026-10-05", 57, 57, 0, 1, 1, -1, "0.00", "15.00", "15.00", "-15.00", "15.00", None),
        ("2026-12-01", "C3", "2026-11-28", 3, 3, 1, 0, 1, 1, "7.00", "0.00", "7.00", "7.00", "7.00", None),
    ]


def test_interactions_as_of_a_day(out):
    cols = ("customer_id", "product_id", "views", "add_to_carts", "remove_from_carts", "purchases", "units_bought",
            "implicit_score", "last_interaction_at", "days_since_last", "label_purchased_next_7d")
    assert pick(out["interactions"], *cols) == [
        ("C1", "P1", 2, 1, 1, 1, 2, 10, "2026-11-08T12:00:00", 2, False),
        ("C2", "P3", 0, 1, 0, 0, 0, 3, "2026-11-09T18:00:00", 1, True),
    ]


def test_a_snapshot_folded_onto_the_day_before_equals_one_built_from_its_whole_lookback(out):
    fold = out["fold"]
    assert fold["folded"] == fold["whole"]
    cols = ("customer_id", "product_id", "views", "add_to_carts", "remove_from_carts", "purchases", "units_bought",
            "last_interaction_at", "label_purchased_next_7d")
    # the day that left the lookback (11-05) took C1's view and purchase of P1 and the whole pair C1 x P2
    assert ("C1", "P2") in {(r["customer_id"], r["product_id"]) for r in fold["previous"]}
    assert pick(fold["folded"], *cols) == [
        ("C1", "P1", 0, 1, 0, 0, 0, "2026-11-07T09:00:00", False),
        ("C2", "P1", 2, 0, 0, 1, 1, "2026-11-10T12:00:00", False),
        ("C2", "P3", 0, 0, 1, 0, 0, None, False),
        ("C3", "P4", 0, 0, 0, 0, 0, None, False),
        ("C4", "P5", 1, 0, 0, 0, 0, "2026-11-10T08:00:00", False),
        ("C5", "P6", 0, 0, 0, 1, 3, "2026-11-06T12:00:00", True),
    ]


def test_a_snapshot_brought_up_to_date_for_the_changed_pairs_equals_one_built_on_the_new_inputs(out):
    changes = out["changes"]
    assert changes["merged"] == changes["whole"]
    # the cancelled line's pair is deleted, the others' rows rebuilt; C1 x P4 has no interaction up to 11-10
    assert changes["ops"] == [["C1", "P1", "upsert"], ["C2", "P2", "delete"], ["C4", "P5", "upsert"]]
    cols = ("customer_id", "product_id", "views", "purchases", "units_bought", "label_purchased_next_7d")
    assert pick(changes["merged"], *cols) == [
        ("C1", "P1", 0, 2, 5, True), ("C3", "P3", 1, 0, 0, True), ("C4", "P5", 1, 0, 0, False)]


def test_when_the_labels_become_known_every_pair_of_the_day_is_rebuilt(out):
    known = out["known"]
    assert known["merged"] == known["whole"]
    assert ["C3", "P3", "upsert"] in known["ops"]
    assert all(r["label_purchased_next_7d"] is not None for r in known["merged"])


def test_a_run_also_rebuilds_the_day_whose_label_horizon_it_closes(out):
    churn, interactions = out["closed"]["features_churn"], out["closed"]["features_interactions"]
    # 10-11: C1 and C2 buy again within 30 days, C3 never does; the run's own day keeps NULL labels
    assert pick(churn["rows"], "obs_date", "customer_id", "recency_days", "label_churned") == [
        ("2026-10-11", "C1", 6, False), ("2026-10-11", "C2", 10, False), ("2026-10-11", "C3", 1, True),
        ("2026-11-10", "C1", 5, None), ("2026-11-10", "C2", 7, None), ("2026-11-10", "C3", 31, None),
        ("2026-11-10", "C4", 0, None),
    ]
    assert churn["replaces"] == ("(obs_date between date'2026-11-10' and date'2026-11-10') "
                                 "or (obs_date = date'2026-10-11')")
    # 11-03: C1 buys P1 again on 11-05, C2 and C3 buy nothing by 11-10
    assert pick(interactions["rows"], "as_of_date", "customer_id", "product_id", "purchases",
                "label_purchased_next_7d") == [
        ("2026-11-03", "C1", "P1", 2, True), ("2026-11-03", "C2", "P3", 2, False),
        ("2026-11-03", "C3", "P1", 1, False),
        ("2026-11-10", "C1", "P1", 3, None), ("2026-11-10", "C2", "P3", 2, None), ("2026-11-10", "C3", "P1", 1, None),
        ("2026-11-10", "C4", "P2", 1, None),
    ]
    assert interactions["replaces"] == ("(as_of_date between date'2026-11-10' and date'2026-11-10') "
                                        "or (as_of_date between date'2026-11-03' and date'2026-11-03')")


def test_a_window_of_days_writes_an_as_of_snapshot_for_each_of_them(out):
    one_day, window = out["closed"]["features_interactions"], out["window"]["features_interactions"]
    # 11-09 and 11-10, and 11-03 whose label horizon 11-10 closes; a day's rows are its own run's
    assert sorted({r["as_of_date"] for r in window["rows"]}) == ["2026-11-03", "2026-11-09", "2026-11-10"]
    for day in ("2026-11-03", "2026-11-10"):
        assert [r for r in window["rows"] if r["as_of_date"] == day] == [
            r for r in one_day["rows"] if r["as_of_date"] == day]
    # C4's first purchase is on 11-10: not in the snapshot of 11-09
    assert pick([r for r in window["rows"] if r["as_of_date"] == "2026-11-09"], "customer_id", "product_id",
                "purchases") == [("C1", "P1", 3), ("C2", "P3", 2), ("C3", "P1", 1)]
    assert window["replaces"] == ("(as_of_date between date'2026-11-09' and date'2026-11-10') "
                                  "or (as_of_date between date'2026-11-03' and date'2026-11-03')")
    segments = out["window"]["customer_segments"]
    assert sorted({(r["as_of_date"], r["customer_id"]) for r in segments["rows"]}) == [
        ("2026-11-09", "C1"), ("2026-11-09", "C2"), ("2026-11-09", "C3"),
        ("2026-11-10", "C1"), ("2026-11-10", "C2"), ("2026-11-10", "C3"), ("2026-11-10", "C4")]
    assert segments["replaces"] == "as_of_date between date'2026-11-09' and date'2026-11-10'"


def test_a_run_also_rebuilds_the_day_its_last_day_closes_the_equipment_label_of(out):
    equipment = out["closed"]["features_equipment"]
    # 11-09 is rebuilt with 11-10's hours in reach: a fault starts at 11-10 05:00, within 24 h of 10:00
    # and 23:00 but not of 04:00; 11-10's own hours still have their horizon ahead
    assert pick(equipment["rows"], "hour_start", "label_failure_next_24h") == [
        ("2026-11-09T04:00:00", False), ("2026-11-09T10:00:00", True), ("2026-11-09T23:00:00", True),
        ("2026-11-10T00:00:00", None), ("2026-11-10T05:00:00", None), ("2026-11-10T06:00:00", None),
        ("2026-11-10T23:00:00", None),
    ]
    assert equipment["replaces"] == (
        "(hour_start >= timestamp'2026-11-10 00:00:00' and hour_start < timestamp'2026-11-11 00:00:00') "
        "or (hour_start >= timestamp'2026-11-09 00:00:00' and hour_start < timestamp'2026-11-10 00:00:00')")
