"""Helpers of the Gold integration tests: run gold_daily as Airflow does, empty a namespace, compare tables."""

from __future__ import annotations

import os
import subprocess
import sys

from headwater import PROJECT_ROOT
from headwater.stack.trino import Trino


def gold_daily(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the job through the CLI, as Airflow does (``env``: extra settings); output captured for the assertions."""
    return subprocess.run([sys.executable, "-m", "headwater", "spark", "gold_daily", "--", *args],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def drop_namespace_tables(trino: Trino, namespace: str) -> None:
    trino.query(f"create schema if not exists iceberg.{namespace}")
    for (table,) in trino.query(f"show tables from iceberg.{namespace}"):
        trino.query(f'drop table iceberg.{namespace}."{table}"')


def columns(trino: Trino, table: str) -> list[str]:
    """A table's columns (``namespace.name``) in their order."""
    namespace, name = table.split(".")
    return [r[0] for r in trino.query(
        f"select column_name from iceberg.information_schema.columns where table_schema = '{namespace}' "
        f"and table_name = '{name}' order by ordinal_position")]


def fingerprint(trino: Trino, table: str) -> tuple:
    """Row count and an order-independent checksum of every column: equal contents, equal fingerprint."""
    row = ", ".join(f'"{c}"' for c in columns(trino, table))
    return tuple(trino.query(f"select count(*), checksum(row({row})) from iceberg.{table}")[0])


def snapshots(trino: Trino, table: str) -> int:
    namespace, name = table.split(".")
    return int(trino.query(f'select count(*) from iceberg.{namespace}."{name}$snapshots"')[0][0])


def copy_events(trino: Trino, table: str, target: str, where: str) -> None:
    """``iceberg.<target>.<table>``: the Silver rows of an event stream matching ``where``, one per event id.

    Silver promises one row per event id; should a resend slip through upstream, the copy keeps one
    (these tests are about Gold: the gate on the real Silver reports such a slip on its own).
    Other tests send events of made-up stores (T...) that no master data has: on a young stack
    they are a visible share of the day and would (rightly) trip references_resolve; left out.
    """
    names = columns(trino, f"silver.{table}")
    cols = ", ".join(f'"{c}"' for c in names)
    real_stores = " and store_id not like 'T%'" if "store_id" in names else ""
    trino.query(f"create table iceberg.{target}.{table} as select {cols} from ("
                f"select *, row_number() over (partition by event_id order by ingested_at) as n_ "
                f"from iceberg.silver.{table} where ({where}){real_stores}) where n_ = 1")


def copy_sales(trino: Trino, target: str, during: str) -> None:
    """Copy the Silver sales (till lines, online orders and their lines) of a time range (``between ...``)."""
    copy_events(trino, "pos_sales", target, f"sold_at {during}")
    trino.query(f"create table iceberg.{target}.online_orders as select * from iceberg.silver.online_orders "
                f"where placed_at {during}")
    trino.query(f"create table iceberg.{target}.online_order_items as select i.* "
                f"from iceberg.silver.online_order_items i join iceberg.{target}.online_orders o "
                "on i.order_id = o.order_id")
    assert int(trino.query(f"select count(*) from iceberg.{target}.pos_sales")[0][0]) > 0, "no sales today yet"
