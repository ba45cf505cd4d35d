"""POS sales: receipts of one to five lines rung up in the stores."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from producers.domain import Domain

PAYMENT_METHODS = ["card", "card", "card", "mobile", "mobile", "cash", "gift_card"]


def iso(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z, the wire format of every timestamp."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def event_id(rng: random.Random) -> str:
    """A UUID drawn from the seeded generator, so a seed reproduces the ids too."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def receipts(rng: random.Random, domain: Domain, clock) -> Iterator[list[dict]]:
    """Endless receipts; each is the list of its line events. ``clock()`` gives the sale time."""
    while True:
        store = rng.choice(domain.stores)
        sale_id = event_id(rng)
        # about a third of customers scan a loyalty card
        customer = rng.choice(domain.customer_ids) if rng.random() < 0.35 else None
        payment = rng.choice(PAYMENT_METHODS)
        sold_at = iso(clock())
        lines = []
        for line_number in range(1, rng.choice([1, 1, 2, 2, 3, 4, 5]) + 1):
            product = rng.choice(domain.products)
            quantity = rng.choice([1, 1, 1, 2, 2, 3, 6])
            discount = Decimal("0.00")
            if rng.random() < 0.1:
                discount = (product.unit_price * quantity * Decimal("0.2")).quantize(Decimal("0.01"))
            lines.append({
                "event_id": event_id(rng),
                "sale_id": sale_id,
                "line_number": line_number,
                "store_id": store.store_id,
                "product_id": product.product_id,
                "customer_id": customer,
                "quantity": quantity,
                "unit_price": float(product.unit_price),
                "discount": float(discount),
                "payment_method": payment,
                "sold_at": sold_at,
            })
        yield lines


def events(seed: int, domain: Domain, clock=None) -> Iterator[dict]:
    """POS sale line events, one at a time, deterministic for a seed and a clock."""
    rng = random.Random(seed)
    clock = clock or (lambda: datetime.now(UTC))
    for lines in receipts(rng, domain, clock):
        yield from lines
