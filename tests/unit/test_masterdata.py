"""Master-data drops follow their contracts and change over time in ways SCD Type 2 must track."""

import csv
import io
import json
from datetime import date, timedelta

import pytest

from headwater.contracts import contracts, load_contract
from producers.domain import build_domain
from producers.masterdata import landed_days, render, snapshot, write_drop
from producers.replay import _value
from producers.shop import table_ddl

pytestmark = pytest.mark.unit

DAY = date(2026, 11, 20)


def _parse(dataset: str, blob: bytes) -> list[dict]:
    contract = load_contract(dataset)
    if contract.file_format == "json":
        return [json.loads(line) for line in blob.decode().splitlines()]
    rows = list(csv.DictReader(io.StringIO(blob.decode())))
    return [{f.name: _value(f, row[f.name]) for f in contract.fields} for row in rows]


@pytest.mark.parametrize("dataset", [c.name for c in contracts("files")])
def test_every_file_row_keeps_its_contract(dataset):
    domain = build_domain(3, n_customers=2000)
    rows = _parse(dataset, render(dataset, snapshot(domain, dataset, DAY)))
    assert rows
    contract = load_contract(dataset)
    keys = [r[contract.key] for r in rows]
    assert len(set(keys)) == len(keys), "the key is unique within a drop"
    for row in rows:
        assert contract.validate(row) == [], (dataset, row)


def test_history_changes_between_drops():
    domain = build_domain(3, n_customers=2000)
    year = [DAY - timedelta(days=30 * i) for i in range(12)]

    def versions(dataset: str, field: str) -> int:
        key = load_contract(dataset).key
        seen = {}
        for day in year:
            for row in snapshot(domain, dataset, day):
                seen.setdefault(row[key], set()).add(row[field])
        return sum(len(v) > 1 for v in seen.values())

    assert versions("products", "unit_price") > 50  # list prices change
    assert versions("stores", "name") + versions("stores", "address") > 3  # stores rename and move
    assert versions("customers", "segment") > 200  # customers change segment and churn


def test_drops_are_written_once_and_completely(tmp_path):
    domain = build_domain(3, n_customers=500)
    first = write_drop(domain, tmp_path, DAY)
    assert len(first) == len(contracts("files"))
    assert write_drop(domain, tmp_path, DAY) == []  # a day is dropped once
    assert landed_days(tmp_path) == [DAY]
    assert not list(tmp_path.rglob("*.part"))


def test_shop_tables_follow_their_contracts():
    ddl = table_ddl(load_contract("online_orders"))
    assert ddl[0].startswith("create table if not exists orders (order_id text not null")
    assert "items_total numeric(10,2) not null" in ddl[0] and "primary key (order_id)" in ddl[0]
    assert ddl[1] == "alter table orders replica identity full"
