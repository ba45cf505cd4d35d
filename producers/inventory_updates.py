"""Inventory updates: deliveries before opening, waste at closing, stock counts in between.

Counts are keyed in on handhelds that sync later; the fault layer makes a share arrive
hours to days late (the contract allows 48 hours).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime

from producers.common import iso, new_id
from producers.domain import Domain


def events(seed: int, domain: Domain, clock: Callable[[], datetime]) -> Iterator[dict]:
    rng = random.Random(seed)
    while True:
        t = clock()
        store = rng.choice(domain.stores)
        product = rng.choice(domain.products)
        if 4 <= t.hour < 8:
            kind, quantity = "delivery", rng.choice([12, 24, 36, 48, 60])
        elif 19 <= t.hour < 22:
            kind, quantity = "waste", rng.randint(0, 8) if product.shelf_life_hours <= 24 else rng.randint(0, 2)
        else:
            kind, quantity = "count", rng.randint(0, 80)
        yield {"event_id": new_id(rng), "store_id": store.store_id, "product_id": product.product_id,
               "update_type": kind, "quantity": quantity, "counted_at": iso(t),
               "device_id": f"H{store.store_id[1:]}-{rng.randint(1, 3)}"}
