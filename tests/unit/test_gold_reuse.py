"""When an incremental Gold run keeps a table instead of rebuilding it (spark_jobs.gold.reuse): only when
every input is where the last build read it and that build's days cover this run's. Against the real
stack: tests/integration/test_gold_build.py (a rerun keeps) and test_gold_incremental.py (new rows rebuild)."""

from datetime import date

import pytest

from spark_jobs.gold.reuse import Window, rebuild_reason

pytestmark = pytest.mark.unit

DAY = date(2026, 11, 4)
SAME = {"pos_sales": 11, "landing/products": -5}


def test_unchanged_inputs_and_the_same_window_keep_the_table():
    assert rebuild_reason(SAME, dict(SAME), Window(DAY, DAY), Window(DAY, DAY)) is None


def test_a_window_inside_the_last_one_and_ending_on_its_day_keeps_it():
    assert rebuild_reason(SAME, dict(SAME), Window(date(2026, 10, 28), DAY), Window(DAY, DAY)) is None


@pytest.mark.parametrize(("current", "expected"), [
    ({"pos_sales": 12, "landing/products": -5}, "new input in pos_sales"),
    ({"pos_sales": 11, "landing/products": 7}, "new input in landing/products"),
    # a source that lost its snapshot (a table recreated empty) is not "the same"
    ({"pos_sales": None, "landing/products": -5}, "new input in pos_sales"),
    # an input the last build did not record (a table that started using it)
    ({**SAME, "clickstream": 3}, "nothing recorded for clickstream"),
    ({}, "no inputs known"),
])
def test_any_changed_or_unknown_input_rebuilds(current, expected):
    assert rebuild_reason(current, dict(SAME), Window(DAY, DAY), Window(DAY, DAY)) == expected


def test_a_window_the_last_build_did_not_cover_rebuilds():
    # the next day: never built
    assert "ending 2026-11-04, not 2026-11-05" in rebuild_reason(
        SAME, dict(SAME), Window(DAY, DAY), Window(DAY, date(2026, 11, 5)))
    # reaching back before the last build's first day (widened by another table's late rows)
    assert "after this window's first day 2026-11-02" in rebuild_reason(
        SAME, dict(SAME), Window(DAY, DAY), Window(date(2026, 11, 2), DAY))
    # an older window (a backfill): its days may never have been built
    assert rebuild_reason(SAME, dict(SAME), Window(DAY, DAY), Window(date(2026, 11, 1), date(2026, 11, 1)))
    assert rebuild_reason(SAME, dict(SAME), None, Window(DAY, DAY)) == "no earlier build recorded"


def test_a_dimension_is_kept_whatever_the_window_but_not_when_its_files_change():
    older = Window(date(2026, 11, 1), date(2026, 11, 1))
    assert rebuild_reason(SAME, dict(SAME), Window(DAY, DAY), older, windowed=False) is None
    assert rebuild_reason({**SAME, "landing/products": 8}, dict(SAME), Window(DAY, DAY), older,
                          windowed=False) == "new input in landing/products"
