"""Helpers of the Gold integration tests: run gold_daily as Airflow does, empty a namespace, compare tables."""

from __future__ import annotations

import os
import subprocess
import sys

from headwater import PROJECT_ROOT
from headwater.frozen import columns, copy_events, copy_orders
from headwater.frozen import drop_tables as drop_namespace_tables
from headwater.stack.trino import Trino

__all__ = ["columns", "copy_events", "copy_sales", "drop_namespace_tables", "fingerprint", "gold_daily", "snapshots"]


def gold_daily(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the job through the CLI, as Airflow does (``env``: extra settings); output captured for the assertions."""
    return subprocess.run([sys.executable, "-m", "headwater", "spark", "gold_daily", "--", *args],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def fingerprint(trino: Trino, table: str) -> tuple:
    """Row count and an order-independent checksum of every column: equal contents, equal fingerprint."""
    row = ", ".join(f'"{c}"' for c in columns(trino, table))
    return tuple(trino.query(f"select count(*), checksum(row({row})) from iceberg.{table}")[0])


def snapshots(trino: Trino, table: str) -> int:
    namespace, name = table.split(".")
    return int(trino.query(f'select count(*) from iceberg.{namespace}."{name}$snapshots"')[0][0])


def copy_sales(trino: Trino, target: str, during: str) -> None:
    """Copy the Silver sales (till lines, online orders and their lines) of a time range (``between ...``)."""
    copy_events(trino, "pos_sales", target, f"sold_at {during}")
    copy_orders(trino, target, during)
    assert int(trino.query(f"select count(*) from iceberg.{target}.pos_sales")[0][0]) > 0, "no sales today yet"
