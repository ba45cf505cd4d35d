"""Frozen copies of Silver in a namespace of their own, so a Gold build runs on fixed inputs.

The Gold integration tests and the Gold benchmark build from such copies (``--source-namespace``)
instead of the live ``silver`` the streaming job keeps changing. Each copy keeps one row per event
id (should a resend slip through upstream: the gate on the real Silver reports such a slip on its
own) and leaves out the made-up stores (``T...``) other tests send, which no master data has and
which would rightly trip ``references_resolve``; rows without a store (online feedback) stay.
"""

from __future__ import annotations

from headwater.stack.trino import Trino

#: the event streams Gold reads besides the sales
GOLD_STREAMS = ("inventory_updates", "customer_feedback", "equipment_metrics", "clickstream")
REAL_STORES = "coalesce(store_id, '') not like 'T%'"


def event_times(streams: tuple[str, ...] = GOLD_STREAMS) -> dict[str, str]:
    """Stream -> its event-time column, from the contracts."""
    from headwater.contracts import load_contract

    return {s: load_contract(s).event_time for s in streams}


def drop_tables(trino: Trino, namespace: str, keep: tuple[str, ...] = ()) -> None:
    """Drop every table of a namespace (data files included) but ``keep``; create the namespace if absent."""
    trino.query(f"create schema if not exists iceberg.{namespace}")
    for (table,) in trino.query(f"show tables from iceberg.{namespace}"):
        if table not in keep:
            trino.query(f'drop table iceberg.{namespace}."{table}"')


def columns(trino: Trino, table: str) -> list[str]:
    """A table's columns (``namespace.name``) in their order."""
    namespace, name = table.split(".")
    return [r[0] for r in trino.query(
        f"select column_name from iceberg.information_schema.columns where table_schema = '{namespace}' "
        f"and table_name = '{name}' order by ordinal_position")]


def copy_events(trino: Trino, table: str, target: str, where: str) -> None:
    """``iceberg.<target>.<table>``: the Silver rows of an event stream matching ``where``, one per event id."""
    names = columns(trino, f"silver.{table}")
    cols = ", ".join(f'"{c}"' for c in names)
    stores = f" and {REAL_STORES}" if "store_id" in names else ""
    trino.query(f"create table iceberg.{target}.{table} as select {cols} from ("
                f"select *, row_number() over (partition by event_id order by ingested_at) as n_ "
                f"from iceberg.silver.{table} where ({where}){stores}) where n_ = 1")


def copy_orders(trino: Trino, target: str, during: str) -> None:
    """The online orders placed in a time range (``between ...``) and their lines (CDC mirrors: one row per key)."""
    trino.query(f"create table iceberg.{target}.online_orders as select * from iceberg.silver.online_orders "
                f"where placed_at {during} and {REAL_STORES}")
    trino.query(f"create table iceberg.{target}.online_order_items as select i.* "
                f"from iceberg.silver.online_order_items i join iceberg.{target}.online_orders o "
                "on i.order_id = o.order_id")
