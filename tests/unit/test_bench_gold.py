"""The Gold benchmark's pure helpers: percentiles, the sales days, the generator's columns."""

from __future__ import annotations

from datetime import date

import pytest

from bench.gold_build import Build, first_landing_day, percentile, read_output, sales_days
from bench.gold_silver import helper_expressions, sales_expressions
from headwater.contracts import load_contract
from headwater.contracts.iceberg import silver_schema

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_ranks():
    values = [float(v) for v in range(10, 0, -1)]  # unsorted on purpose
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 10
    assert percentile([0.3], 95) == 0.3


def test_percentile_rejects_no_values_and_bad_ranks():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_generator_makes_exactly_the_silver_columns_in_order():
    expected = [f.name for f in silver_schema(load_contract("pos_sales")).fields]
    assert list(sales_expressions(partitions=3)) == expected
    # helper columns never shadow a table column (they are dropped by the final select)
    assert all(name.startswith("_") for name in helper_expressions())


def _land(root, dataset, *days, ext="csv"):
    (root / dataset).mkdir(parents=True, exist_ok=True)
    for d in days:
        (root / dataset / f"{dataset}_{d}.{ext}").write_text("")


def test_first_landing_day_is_when_every_key_dataset_has_landed(tmp_path):
    _land(tmp_path, "stores", "2026-11-10", "2026-11-12")
    _land(tmp_path, "products", "2026-11-11")
    _land(tmp_path, "customers", "2026-11-09", ext="json")
    (tmp_path / "products" / "products_latest.csv").write_text("")  # not a dated drop: ignored
    assert first_landing_day(tmp_path) == date(2026, 11, 11)


def test_first_landing_day_without_files_says_so(tmp_path):
    _land(tmp_path, "stores", "2026-11-10")
    with pytest.raises(SystemExit, match="no products files"):
        first_landing_day(tmp_path)


def test_sales_days_ends_today_within_the_master_data():
    today, first = date(2026, 11, 22), date(2026, 11, 15)
    assert sales_days(0, first, today) == first  # all 8 days the master data covers
    assert sales_days(3, first, today) == date(2026, 11, 20)
    assert sales_days(0, date(2026, 1, 1), today) == date(2026, 10, 24)  # capped at 30 days
    with pytest.raises(SystemExit, match="covers 8 days"):
        sales_days(9, first, today)


def test_read_output_takes_built_merged_and_kept_tables_and_the_window():
    lines = ["gold_daily run r1: s -> g, days 2026-11-23..2026-11-23; planned in 2.5s",
             "g.fact_sales: merging the new rows of online_orders, pos_sales (new input in pos_sales)",
             "  check ok   fact_sales.grain_unique: observed 0.0, expected [None, 0.0]",
             "g.fact_sales: 678049 rows written (36.2s)",
             "g.product_sales_daily: building (new input in pos_sales)",
             "g.product_sales_daily: 2972 rows written (9.1s)",
             "g.dim_store: kept as built by the run of 2026-11-16..2026-11-23, its inputs are unchanged (0.0s)",
             "g.dim_date: building (no earlier build recorded)"]
    build = read_output(Build(1.0, 2.0), lines)
    assert build.tables == {"fact_sales": 36.2, "product_sales_daily": 9.1}
    assert build.merged == ["fact_sales"]
    assert build.kept == ["dim_store"]
    assert build.window == "2026-11-23..2026-11-23"
    assert build.planned == 2.5
