"""SCD Type 2 on the running stack: a price change and a store rename between two master-data drops.

The job reads a landing directory of this test (``HEADWATER_LANDING``): two days of the stack's
latest master-data files, the second with one product's price raised and one store renamed. Its
Silver input is a test-only namespace holding till lines of that product in that store on each
day. Sales of the first day must join the old product and store versions, sales of the second
the new ones, and the old versions stay in the dimensions (history kept).
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.contracts import load_contract
from headwater.stack.trino import Trino
from tests.integration.gold_helpers import columns, drop_namespace_tables, gold_daily

pytestmark = pytest.mark.integration

SRC = "gold_scd2_src"
GOLD = "gold_scd2"
#: two fixed past days: the build is about versions, not about today's data
DAY1, DAY2 = date(2026, 1, 5), date(2026, 1, 6)
MASTER = ("stores", "products", "customers", "equipment", "campaigns", "weather")


def latest_drop(landing: Path, dataset: str) -> Path:
    """The newest landed file of a master-data dataset (names end in the day: ``<dataset>_YYYY-MM-DD.<ext>``)."""
    files = sorted((landing / dataset).glob(f"{dataset}_*.{load_contract(dataset).file_format}"))
    assert files, f"no {dataset} files under {landing}: the stack's master-data drop has not run"
    return files[-1]


def edit_csv(path: Path, key: str, key_value: str, column: str, value: str) -> None:
    """Set ``column`` of the row whose ``key`` is ``key_value``, in place."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    hits = [r for r in rows if r[key] == key_value]
    assert len(hits) == 1, f"{key}={key_value} in {path}"
    hits[0][column] = value
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def first_row(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        return next(csv.DictReader(f))


@pytest.fixture(scope="module")
def two_drops(stack, tmp_path_factory) -> dict:
    """A landing directory with the latest drop as DAY1 and, as DAY2, the same with a price and a name changed."""
    landing = tmp_path_factory.mktemp("landing")
    for dataset in MASTER:
        source = latest_drop(stack.landing_dir, dataset)
        (landing / dataset).mkdir()
        for day in (DAY1, DAY2):
            shutil.copy(source, landing / dataset / f"{dataset}_{day}{source.suffix}")
    product, store = first_row(landing / "products" / f"products_{DAY2}.csv"), \
        first_row(landing / "stores" / f"stores_{DAY2}.csv")
    old_price = Decimal(product["unit_price"])
    new_price = old_price + Decimal("0.50")
    edit_csv(landing / "products" / f"products_{DAY2}.csv", "product_id", product["product_id"], "unit_price",
             str(new_price))
    edit_csv(landing / "stores" / f"stores_{DAY2}.csv", "store_id", store["store_id"], "name",
             store["name"] + " Renamed")
    return {"landing": landing, "product": product["product_id"], "store": store["store_id"],
            "prices": {DAY1: old_price, DAY2: new_price}, "names": {DAY1: store["name"],
                                                                    DAY2: store["name"] + " Renamed"}}


def sales_of(trino: Trino, product: str, store: str, prices: dict[date, Decimal]) -> None:
    """``SRC.pos_sales``: till lines of ``product`` in ``store`` on each day (morning and late evening), at the
    day's list price; the other columns are taken from a real Silver row. Online orders: none."""
    drop_namespace_tables(trino, SRC)
    trino.query(f"create table iceberg.{SRC}.pos_sales as select * from iceberg.silver.pos_sales with no data")
    for name in ("online_orders", "online_order_items"):
        trino.query(f"create table iceberg.{SRC}.{name} as select * from iceberg.silver.{name} with no data")
    cols = columns(trino, f"{SRC}.pos_sales")
    for day, price in prices.items():
        for n, at in enumerate(("09:15:00", "22:45:00")):
            line = f"scd2-{day}-{n}"
            overrides = {"event_id": f"'{line}'", "sale_id": f"'{line}'", "line_number": "1",
                         "store_id": f"'{store}'", "product_id": f"'{product}'",
                         "customer_id": "cast(null as varchar)", "quantity": "2",
                         "unit_price": f"cast({price} as decimal(10, 2))", "discount": "cast(0 as decimal(10, 2))",
                         "sold_at": f"timestamp '{day} {at} UTC'"}
            select = ", ".join(overrides.get(c, f'"{c}"') for c in cols)
            trino.query(f"insert into iceberg.{SRC}.pos_sales select {select} from iceberg.silver.pos_sales "
                        "limit 1")


def test_sales_join_the_versions_valid_on_their_day(stack, trino: Trino, two_drops: dict):
    product, store = two_drops["product"], two_drops["store"]
    sales_of(trino, product, store, two_drops["prices"])
    drop_namespace_tables(trino, GOLD)
    built = gold_daily("--source-namespace", SRC, "--target-namespace", GOLD, "--start", str(DAY1),
                       "--end", str(DAY2), "--tables", "dimension,fact_sales", "--no-catch-up",
                       env={"HEADWATER_LANDING": str(two_drops["landing"])})
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    # the price change opened a version on DAY2 and closed the first one; both are kept
    versions = trino.query(f"select product_sk, unit_price, valid_from, valid_to, is_current "
                           f"from iceberg.{GOLD}.dim_product where product_id = '{product}' order by valid_from")
    assert [(Decimal(str(v[1])), str(v[2]), str(v[3]), v[4]) for v in versions] == [
        (two_drops["prices"][DAY1], str(DAY1), str(DAY2), False),
        (two_drops["prices"][DAY2], str(DAY2), "9999-12-31", True)]
    # the rename likewise: the old name stays as history
    names = trino.query(f"select store_sk, name, valid_from, is_current from iceberg.{GOLD}.dim_store "
                        f"where store_id = '{store}' order by valid_from")
    assert [(n[1], str(n[2]), n[3]) for n in names] == [
        (two_drops["names"][DAY1], str(DAY1), False), (two_drops["names"][DAY2], str(DAY2), True)]
    # a product that did not change keeps one version
    unchanged = trino.query(f"select count(*) from iceberg.{GOLD}.dim_product where product_id <> '{product}' "
                            "group by product_id having count(*) > 1")
    assert unchanged == []

    # each sale line carries the versions of its own day, and the list price of that version
    product_sk = {str(v[2]): v[0] for v in versions}
    store_sk = {str(n[2]): n[0] for n in names}
    lines = trino.query(f"select sale_date, product_sk, store_sk, list_price from iceberg.{GOLD}.fact_sales "
                        "order by sold_at")
    assert [(str(d), p, s, Decimal(str(lp))) for d, p, s, lp in lines] == [
        (str(day), product_sk[str(day)], store_sk[str(day)], two_drops["prices"][day])
        for day in (DAY1, DAY1, DAY2, DAY2)]
