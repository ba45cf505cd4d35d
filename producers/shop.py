"""The OLTP writer: online orders inserted, moved through their statuses, and some deleted,
in the `shop` PostgreSQL database, as the web shop's backend would (CDC captures it later).

The tables are created from the ``online_orders`` and ``online_order_items`` contracts.
"""

from __future__ import annotations

import random
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from headwater.contracts import Contract, Field, load_contract
from headwater.contracts.types import engine_type
from headwater.settings import Settings
from producers.domain import build_domain

NEXT_STATUS = {"placed": "baking", "baking": "out_for_delivery", "out_for_delivery": "delivered"}


def pg_type(f: Field) -> str:
    return engine_type(f, "postgres")


def table_ddl(contract: Contract) -> list[str]:
    """CREATE TABLE for a postgres-sourced contract; full replica identity so CDC sees old rows."""
    cols = ", ".join(f"{f.name} {pg_type(f)}{' not null' if f.required else ''}" for f in contract.fields)
    return [f"create table if not exists {contract.source_table} ({cols}, primary key ({contract.key}))",
            f"alter table {contract.source_table} replica identity full"]


def connect(settings: Settings):  # -> psycopg.Connection
    import psycopg

    pg = settings.postgres
    return psycopg.connect(host=pg.host, port=pg.port, user=pg.user, password=settings.postgres_password,
                           dbname=pg.shop_database, connect_timeout=5, autocommit=True)


def ensure_schema(settings: Settings) -> None:
    with connect(settings) as conn:
        for name in ("online_orders", "online_order_items"):
            for statement in table_ddl(load_contract(name)):
                conn.execute(statement)


class ShopWriter:
    """Places orders at ``rate`` per second and advances each a status every ``step_s`` seconds."""

    def __init__(self, settings: Settings, rate: float, step_s: float, seed: int) -> None:
        self.settings, self.rate, self.step_s = settings, rate, step_s
        self.rng = random.Random(seed ^ 0x5409)
        self.domain = build_domain(seed)
        self.counts = {"inserted": 0, "updated": 0, "deleted": 0}

    def place(self, conn, now: datetime) -> None:
        rng, d = self.rng, self.domain
        store = rng.choice([s for s in d.stores if s.has_delivery] or d.stores)
        order_id = str(uuid.uuid4())  # a live system: ids must not repeat across restarts
        lines = [(rng.choice(d.products), rng.choice([1, 1, 2, 3])) for _ in range(rng.randint(1, 5))]
        total = sum((p.unit_price * q for p, q in lines), Decimal("0.00"))
        campaigns = d.active_campaigns(now.date())
        with conn.transaction():
            conn.execute("insert into orders (order_id, customer_id, store_id, channel, status, items_total, "
                         "delivery_fee, campaign_id, placed_at, updated_at) "
                         "values (%s, %s, %s, %s, 'placed', %s, %s, %s, %s, %s)",
                         (order_id, rng.choice(d.customers).customer_id, store.store_id, rng.choice(["web", "app"]),
                          total, Decimal("2.90") if total < 25 else Decimal("0.00"),
                          rng.choice(campaigns).campaign_id if campaigns and rng.random() < 0.3 else None,
                          now, now))
            for p, q in lines:
                conn.execute("insert into order_items (order_item_id, order_id, product_id, quantity, unit_price, "
                             "added_at) values (%s, %s, %s, %s, %s, %s)",
                             (str(uuid.uuid4()), order_id, p.product_id, q, p.unit_price, now))
        self.counts["inserted"] += 1

    def advance(self, conn, now: datetime) -> None:
        """Move orders whose last change is older than a step; cancel a few; purge old cancellations."""
        due = now - timedelta(seconds=self.step_s)
        rows = conn.execute("select order_id, status from orders where status in "
                            "('placed', 'baking', 'out_for_delivery') and updated_at <= %s "
                            "order by updated_at limit 200", (due,)).fetchall()
        for order_id, status in rows:
            new = "cancelled" if status == "placed" and self.rng.random() < 0.06 else NEXT_STATUS[status]
            conn.execute("update orders set status = %s, updated_at = %s where order_id = %s", (new, now, order_id))
            self.counts["updated"] += 1
        # cancelled orders are purged after a while (with their lines): CDC sees deletes too
        old = conn.execute("select order_id from orders where status = 'cancelled' and updated_at <= %s limit 50",
                           (now - timedelta(seconds=self.step_s * 3),)).fetchall()
        for (order_id,) in old:
            with conn.transaction():
                conn.execute("delete from order_items where order_id = %s", (order_id,))
                conn.execute("delete from orders where order_id = %s", (order_id,))
            self.counts["deleted"] += 1

    def run(self, duration: float = 0.0) -> dict:
        """Write until ``duration`` seconds pass (0: until SIGTERM or Ctrl-C)."""
        ensure_schema(self.settings)
        stop = {"now": False}
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.update(now=True))
        import psycopg

        start = time.monotonic()
        placed = 0
        while not stop["now"] and not (duration and time.monotonic() - start >= duration):
            try:
                with connect(self.settings) as conn:
                    while not stop["now"] and not (duration and time.monotonic() - start >= duration):
                        now = datetime.now(UTC)
                        self.advance(conn, now)
                        due = (time.monotonic() - start) * self.rate
                        while placed < due:
                            self.place(conn, now)
                            placed += 1
                        time.sleep(min(0.5, 1 / max(self.rate, 0.01)))  # the writer's pace, not a readiness wait
            except psycopg.OperationalError as exc:  # the database restarted or is unreachable: try again
                print(f"shop database unavailable ({exc}); retrying in 5 s", flush=True)
                time.sleep(5)
        return self.counts
