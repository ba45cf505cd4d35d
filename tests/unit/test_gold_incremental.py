"""Incremental Gold builds, the pure part: the UTC days new Silver rows fall on, and the window a run
widens to so that it rebuilds every day touched by late data (spark_jobs.gold.incremental). The
snapshot reads and the state table are exercised against the real stack (tests/integration/
test_gold_incremental.py). Spark starts once for the module."""

import pytest

pytestmark = pytest.mark.unit


def inv(event: str, at: str) -> dict:
    return {"event_id": event, "store_id": "S1", "product_id": "P1", "update_type": "count", "quantity": 1,
            "counted_at": at, "device_id": "H1"}


CASES = {
    # arriving 40 hours late, in no order: the last second of the 2nd, the first of the 3rd, two on the 1st
    "late_inventory": {"case": "changed_days", "dataset": "inventory_updates", "time_column": "counted_at", "rows": [
        inv("v3", "2026-11-03T00:00:00Z"), inv("v1", "2026-11-01T08:00:00Z"), inv("v2", "2026-11-02T23:59:59Z"),
        inv("v4", "2026-11-01T21:00:00Z")]},
    # 00:30 at UTC+1 is 23:30 UTC the day before: days are UTC days, whatever offset the time was sent with
    "utc_days": {"case": "changed_days", "dataset": "inventory_updates", "time_column": "counted_at",
                 "rows": [inv("v1", "2026-11-03T00:30:00+01:00")]},
    "no_rows": {"case": "changed_days", "dataset": "pos_sales", "time_column": "sold_at", "rows": []},
    "null_times": {"case": "changed_days", "schema": "id string, at timestamp", "time_column": "at",
                   "rows": [{"id": "a", "at": None}, {"id": "b", "at": "2026-11-05T10:00:00Z"}]},
    "windows": {"case": "widen_window", "windows": [
        # a late day two days back, one inside the window, one after it (tomorrow's rows, already arriving)
        ["2026-11-04", "2026-11-04", ["2026-11-05", "2026-11-04", "2026-11-02", "2026-11-02"]],
        # late days with a gap between them: the window stays contiguous
        ["2026-11-04", "2026-11-05", ["2026-11-02", "2026-10-30"]],
        # only days of the window, or nothing: unchanged
        ["2026-11-04", "2026-11-06", ["2026-11-06", "2026-11-04"]],
        ["2026-11-04", "2026-11-04", []],
        # the day just before the window
        ["2026-11-04", "2026-11-04", ["2026-11-03"]],
    ]},
}


@pytest.fixture(scope="module")
def out(engine):
    return engine("spark", "spark", "spark_gold_check.py", [], {"cases": CASES})


def test_late_rows_give_their_sorted_distinct_utc_days(out):
    assert out["late_inventory"] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_days_are_utc_days(out):
    assert out["utc_days"] == ["2026-11-02"]


def test_no_rows_no_days_and_rows_without_a_time_are_skipped(out):
    assert out["no_rows"] == []
    assert out["null_times"] == ["2026-11-05"]


def test_window_reaches_back_to_the_earliest_late_day_and_its_end_stays(out):
    late, gap, _, _, adjacent = out["windows"]
    assert late == {"start": "2026-11-02", "end": "2026-11-04", "added": ["2026-11-02", "2026-11-03"],
                    "late": ["2026-11-02"], "later": ["2026-11-05"]}
    assert gap == {"start": "2026-10-30", "end": "2026-11-05",
                   "added": ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"],
                   "late": ["2026-10-30", "2026-11-02"], "later": []}
    assert adjacent == {"start": "2026-11-03", "end": "2026-11-04", "added": ["2026-11-03"], "late": ["2026-11-03"],
                        "later": []}


def test_a_window_without_late_days_is_unchanged(out):
    _, _, inside, none, _ = out["windows"]
    unchanged = {"start": "2026-11-04", "added": [], "late": [], "later": []}
    assert inside == {**unchanged, "end": "2026-11-06"}
    assert none == {**unchanged, "end": "2026-11-04"}
