"""Gold dimensions: SCD Type 2 from daily snapshots (history, idempotence, any order, backfills), plain
dimensions and the calendar. Expected values are worked out by hand from the rows below; Spark runs
once for the whole module (tests/engines/spark_gold_check.py)."""

import pytest

pytestmark = pytest.mark.unit

OPEN = "9999-12-31"


def product(pid: str, price: str, name: str = "Baguette", cost: str = "0.80", active: bool = True) -> dict:
    return {"product_id": pid, "name": name, "category": "bread", "unit_price": price, "unit_cost": cost,
            "shelf_life_hours": 24, "active": active}


# P1: the price goes up on the 3rd. P2: the name changes on the 3rd (Type 1: no new version).
DAYS = {
    "2026-11-01": [product("P1", "2.00"), product("P2", "5.00", "Tarte")],
    "2026-11-02": [product("P1", "2.00"), product("P2", "5.00", "Tarte")],
    "2026-11-03": [product("P1", "2.10"), product("P2", "5.00", "Tarte v2")],
    "2026-11-04": [product("P1", "2.10"), product("P2", "5.00", "Tarte v2")],
}


def steps(*days: str) -> list:
    return [[d, DAYS[d]] for d in days]


def store(name: str, address: str = "1 rue Neuve", seats: int = 20) -> dict:
    return {"store_id": "S1", "name": name, "city": "Lyon", "address": address, "opened_on": "2020-05-01",
            "seats": seats, "has_delivery": True}


def customer(cid: str, segment: str, city: str = "Lyon", email: str = "a@example.org") -> dict:
    return {"customer_id": cid, "full_name": "Ann Example", "email": email, "city": city, "segment": segment,
            "signed_up_on": "2026-10-30", "marketing_opt_in": True}


CASES = {
    "in_order": {"case": "scd2_steps", "dataset": "products", "steps": steps(*DAYS)},
    "out_of_order": {"case": "scd2_steps", "dataset": "products",
                     "steps": steps("2026-11-04", "2026-11-01", "2026-11-03", "2026-11-02")},
    "twice": {"case": "scd2_steps", "dataset": "products",
              "steps": steps("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-03", "2026-11-04", "2026-11-02")},
    "rebuild": {"case": "scd2_rebuild", "dataset": "products", "snapshots": steps(*DAYS)},
    "backfill": {"case": "scd2_rebuild", "dataset": "products", "before": steps("2026-11-01", "2026-11-04"),
                 "snapshots": steps("2026-11-03", "2026-11-02")},
    # a backfilled day inside a run splits it: the 2nd was missing, then arrives with another price
    "split": {"case": "scd2_steps", "dataset": "products",
              "steps": [["2026-11-01", [product("P1", "2.00")]], ["2026-11-03", [product("P1", "2.00")]],
                        ["2026-11-02", [product("P1", "2.50")]]]},
    "split_in_order": {"case": "scd2_steps", "dataset": "products",
                       "steps": [["2026-11-01", [product("P1", "2.00")]], ["2026-11-02", [product("P1", "2.50")]],
                                 ["2026-11-03", [product("P1", "2.00")]]]},
    "store_rename": {"case": "scd2_steps", "dataset": "stores",
                     "steps": [["2026-11-01", [store("Maison Dupont")]],
                               ["2026-11-02", [store("Maison Dupont", seats=24)]],
                               ["2026-11-05", [store("Maison Dupont II", seats=24)]],
                               ["2026-11-09", [store("Maison Dupont II", "12 place du Marché", seats=30)]]]},
    "customers": {"case": "scd2_steps", "dataset": "customers",
                  "steps": [["2026-11-01", [customer("C1", "new")]],
                            ["2026-11-02", [customer("C1", "new"), customer("C2", "new")]],
                            # C2 missing from one file: not a deletion
                            ["2026-11-03", [customer("C1", "regular", email="b@example.org")]]]},
    "plain": {
        "case": "plain_dims",
        "equipment": [["2026-11-01", [{"device_id": "D1", "store_id": "S1", "device_type": "deck_oven",
                                       "model": "M1", "installed_on": "2025-01-01"}]],
                      ["2026-11-02", [{"device_id": "D1", "store_id": "S2", "device_type": "deck_oven",
                                       "model": "M1", "installed_on": "2025-01-01"}]]],
        "campaigns": [["2026-11-01", [{"campaign_id": "K1", "name": "Hiver 1", "channel": "in_store",
                                       "category": "bread", "discount_pct": 10, "starts_on": "2026-11-10",
                                       "ends_on": "2026-11-16"}]],
                      ["2026-11-02", [{"campaign_id": "K1", "name": "Hiver 1", "channel": "in_store",
                                       "category": "bread", "discount_pct": 15, "starts_on": "2026-11-10",
                                       "ends_on": "2026-11-20"},
                                      {"campaign_id": "K2", "name": "Rentrée 2", "channel": "email",
                                       "discount_pct": 5, "starts_on": "2026-11-12", "ends_on": "2026-11-12"}]]],
        "weather": [[day, [{"weather_id": f"Lyon:{day}", "city": "Lyon", "date": day, "temp_max_c": t,
                            "temp_min_c": 1.5, "precipitation_mm": rain, "condition": cond}]]
                    for day, t, rain, cond in (("2026-11-01", 9.5, 0.0, "sunny"), ("2026-11-02", 7.0, 4.2, "rain"))],
    },
    "calendar": {"case": "dim_date", "start": "2026-12-31", "end": "2027-01-04"},
}


@pytest.fixture(scope="module")
def out(engine):
    return engine("spark", "spark", "spark_gold_check.py", [], {"cases": CASES})


def versions(dim: list[dict], *cols: str) -> list[tuple]:
    return [tuple(r[c] for c in cols) for r in dim]


SCD = ("product_id", "unit_price", "name", "valid_from", "valid_to", "is_current", "last_seen_on")
EXPECTED = [
    ("P1", "2.00", "Baguette", "2026-11-01", "2026-11-03", False, "2026-11-02"),
    ("P1", "2.10", "Baguette", "2026-11-03", OPEN, True, "2026-11-04"),
    ("P2", "5.00", "Tarte v2", "2026-11-01", OPEN, True, "2026-11-04"),
]


def test_price_change_opens_a_version_and_closes_the_old_one(out):
    history = out["in_order"]
    assert versions(history[0], *SCD) == [("P1", "2.00", "Baguette", "2026-11-01", OPEN, True, "2026-11-01"),
                                          ("P2", "5.00", "Tarte", "2026-11-01", OPEN, True, "2026-11-01")]
    assert versions(history[-1], *SCD) == EXPECTED
    final = history[-1]
    # every contract column is kept, plus the SCD2 bookkeeping and the surrogate key first
    assert list(final[0]) == ["product_sk", "product_id", "name", "category", "unit_price", "unit_cost",
                              "shelf_life_hours", "active", "valid_from", "valid_to", "is_current", "last_seen_on"]
    sks = [r["product_sk"] for r in final]
    assert len(set(sks)) == 3 and all(isinstance(s, int) for s in sks)


def test_surrogate_keys_do_not_depend_on_the_run(out):
    """Same version (key, valid_from) -> same surrogate key, whatever the order it was built in."""
    def keyed(dim):
        return {(r["product_id"], r["valid_from"]): r["product_sk"] for r in dim}

    reference = keyed(out["in_order"][-1])
    assert keyed(out["out_of_order"][-1]) == reference
    assert keyed(out["rebuild"]) == reference
    # P1's first version kept its key when the price change closed it
    assert keyed(out["in_order"][0])[("P1", "2026-11-01")] == reference[("P1", "2026-11-01")]


def test_applying_a_snapshot_twice_changes_nothing(out):
    history = out["twice"]
    assert history[3] == history[2]  # the 3rd again, right after itself
    assert history[5] == history[4]  # the 2nd again, after later days
    assert history[5] == out["in_order"][-1]


def test_out_of_order_backfill_and_rebuild_equal_in_order(out):
    expected = out["in_order"][-1]
    assert versions(expected, *SCD) == EXPECTED
    assert out["out_of_order"][-1] == expected
    assert out["rebuild"] == expected
    assert out["backfill"] == expected
    # halfway through the out-of-order run: the 4th then the 1st; the price change is dated by the 4th
    assert versions(out["out_of_order"][1], *SCD)[:2] == [
        ("P1", "2.00", "Baguette", "2026-11-01", "2026-11-04", False, "2026-11-01"),
        ("P1", "2.10", "Baguette", "2026-11-04", OPEN, True, "2026-11-04")]


def test_a_late_day_with_another_value_splits_a_version(out):
    cols = ("unit_price", "valid_from", "valid_to", "is_current", "last_seen_on")
    assert versions(out["split"][1], *cols) == [("2.00", "2026-11-01", OPEN, True, "2026-11-03")]
    assert versions(out["split"][-1], *cols) == [("2.00", "2026-11-01", "2026-11-02", False, "2026-11-01"),
                                                 ("2.50", "2026-11-02", "2026-11-03", False, "2026-11-02"),
                                                 ("2.00", "2026-11-03", OPEN, True, "2026-11-03")]
    assert out["split"][-1] == out["split_in_order"][-1]


def test_store_rename_and_move_keep_history(out):
    final = out["store_rename"][-1]
    cols = ("name", "address", "seats", "valid_from", "valid_to", "is_current")
    # seats is Type 1: every version shows the newest value
    assert versions(final, *cols) == [
        ("Maison Dupont", "1 rue Neuve", 30, "2026-11-01", "2026-11-05", False),
        ("Maison Dupont II", "1 rue Neuve", 30, "2026-11-05", "2026-11-09", False),
        ("Maison Dupont II", "12 place du Marché", 30, "2026-11-09", OPEN, True)]
    assert versions(out["store_rename"][1], "name", "seats", "valid_from", "last_seen_on") == [
        ("Maison Dupont", 24, "2026-11-01", "2026-11-02")]
    assert len({r["store_sk"] for r in final}) == 3


def test_customer_segment_history_and_absent_keys(out):
    final = out["customers"][-1]
    assert versions(final, "customer_id", "segment", "email", "valid_from", "valid_to", "is_current") == [
        ("C1", "new", "b@example.org", "2026-11-01", "2026-11-03", False),
        ("C1", "regular", "b@example.org", "2026-11-03", OPEN, True),
        # first seen on the 2nd; missing from the 3rd's file but still current
        ("C2", "new", "a@example.org", "2026-11-02", OPEN, True)]


def test_plain_dimensions_take_the_newest_snapshot(out):
    plain = out["plain"]
    assert plain["equipment"] == [{"device_id": "D1", "store_id": "S2", "device_type": "deck_oven", "model": "M1",
                                   "installed_on": "2025-01-01"}]
    assert versions(plain["campaigns"], "campaign_id", "category", "discount_pct", "ends_on", "duration_days") == [
        ("K1", "bread", 15, "2026-11-20", 11), ("K2", None, 5, "2026-11-12", 1)]
    assert versions(plain["weather"], "weather_id", "date", "temp_max_c", "precipitation_mm", "is_wet") == [
        ("Lyon:2026-11-01", "2026-11-01", 9.5, 0.0, False), ("Lyon:2026-11-02", "2026-11-02", 7.0, 4.2, True)]


def test_calendar_uses_iso_weeks(out):
    cols = ("date_key", "date", "year", "quarter", "month", "day_of_week", "day_name", "iso_week", "iso_year",
            "is_weekend", "week_start", "month_start")
    assert versions(out["calendar"], *cols) == [
        (20261231, "2026-12-31", 2026, 4, 12, 4, "Thursday", 53, 2026, False, "2026-12-28", "2026-12-01"),
        (20270101, "2027-01-01", 2027, 1, 1, 5, "Friday", 53, 2026, False, "2026-12-28", "2027-01-01"),
        (20270102, "2027-01-02", 2027, 1, 1, 6, "Saturday", 53, 2026, True, "2026-12-28", "2027-01-01"),
        (20270103, "2027-01-03", 2027, 1, 1, 7, "Sunday", 53, 2026, True, "2026-12-28", "2027-01-01"),
        (20270104, "2027-01-04", 2027, 1, 1, 1, "Monday", 1, 2027, False, "2027-01-04", "2027-01-01")]
