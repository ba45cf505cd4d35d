"""Customer feedback: ratings with a short comment, mostly good, worse at some stores.

Signal: each store has its own quality; customers about to churn rate lower.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from producers.common import WeightedPicker, iso, new_id
from producers.domain import Domain

COMMENTS = {
    1: ["Stale bread, very disappointed.", "Order arrived cold and late.", "Rude staff."],
    2: ["Croissant was dry.", "Long wait at the counter.", "Delivery took over an hour."],
    3: ["Fine, nothing special.", "Good coffee, pastries so-so.", "OK but pricey."],
    4: ["Lovely pain au chocolat.", "Quick service, friendly team.", "Nice sandwiches."],
    5: ["Best baguette in town!", "Perfect éclairs, will come back.", "Always fresh, always kind."],
}
CHANNELS = WeightedPicker(["app", "web", "email", "kiosk"], [40, 20, 15, 25])


def events(seed: int, domain: Domain, clock: Callable[[], datetime]) -> Iterator[dict]:
    rng = random.Random(seed)
    quality = {s.store_id: rng.uniform(3.2, 4.6) for s in domain.stores}
    while True:
        t = clock()
        store = rng.choice(domain.stores)
        customer = rng.choice(domain.customers) if rng.random() < 0.7 else None
        mean = quality[store.store_id]
        if customer and customer.churns_on and t.date() >= customer.churns_on - timedelta(days=30):
            mean -= 1.2  # unhappy customers leave
        rating = max(1, min(5, round(rng.gauss(mean, 0.9))))
        online = rng.random() < 0.3
        yield {"event_id": new_id(rng), "customer_id": customer.customer_id if customer else None,
               "rating": rating, "comment": rng.choice(COMMENTS[rating]) if rng.random() < 0.8 else None,
               "channel": CHANNELS.pick(rng), "store_id": store.store_id,
               "sale_id": None if online else new_id(rng), "order_id": new_id(rng) if online else None,
               "reviewed_at": iso(t)}
