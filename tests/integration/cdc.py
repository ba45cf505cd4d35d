"""CDC fixtures: the shop tables held still, and the row-by-row comparison of Silver with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from headwater.contracts import Contract, load_contract
from headwater.settings import Settings
from headwater.stack.trino import Trino
from headwater.stack.workloads import ShopWriterService
from producers.shop import connect
from tests.integration.conftest import wait_until_equal

ORDERS = load_contract("online_orders")
ITEMS = load_contract("online_order_items")


def _norm(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _columns(contract: Contract) -> str:
    return ", ".join(f.name for f in contract.fields)


def _source_rows(settings: Settings, contract: Contract) -> list[tuple]:
    with connect(settings) as conn:
        rows = conn.execute(f"select {_columns(contract)} from {contract.source_table} "
                            f"order by {contract.key}").fetchall()
    return [tuple(map(_norm, r)) for r in rows]


def _silver_rows(trino: Trino, contract: Contract) -> list[tuple]:
    rows = trino.query(f"select {_columns(contract)} from iceberg.silver.{contract.name} order by {contract.key}")
    return [tuple(map(_norm, r)) for r in rows]


@pytest.fixture
def quiet_shop(stack: Settings) -> Iterator[Settings]:
    """The OLTP writer paused, so the source tables hold still while they are compared."""
    writer = ShopWriterService(stack)
    writer.stop()
    try:
        yield stack
    finally:
        writer.start()
        writer.wait_ready()


def assert_mirrors_source(settings: Settings, trino: Trino, timeout: float) -> None:
    """Wait until silver.online_orders and silver.online_order_items equal their source tables, row by row."""
    for contract in (ORDERS, ITEMS):
        expected = _source_rows(settings, contract)
        wait_until_equal(lambda c=contract: _silver_rows(trino, c), expected, timeout,
                         f"silver.{contract.name} to equal shop.{contract.source_table}")
