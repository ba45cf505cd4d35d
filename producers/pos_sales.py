"""POS sales: receipts of one to five lines rung up in the stores.

Signal: traffic follows the hour and weekday (clock), rain keeps walk-ins away, mornings
sell viennoiserie and lunch sells sandwiches, in-store promotions lift their category,
churned loyalty customers stop appearing after their churn date.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal

from producers.common import WeightedPicker, iso, new_id
from producers.domain import Domain
from producers.signals import weather_factor, weather_for

PAYMENT_METHODS = WeightedPicker(["card", "mobile", "cash", "gift_card"], [50, 25, 20, 5])
_CATEGORY_BY_HOUR = {  # relative appeal of a category at an hour of the day
    "viennoiserie": lambda h: 3.0 if 6 <= h < 11 else 0.6,
    "bread": lambda h: 1.5 if (7 <= h < 10 or 17 <= h < 20) else 0.8,
    "sandwich": lambda h: 3.0 if 11 <= h < 14 else 0.4,
    "pastry": lambda h: 2.0 if 15 <= h < 19 else 0.8,
    "drink": lambda h: 1.5 if 7 <= h < 11 else 1.0,
}


def events(seed: int, domain: Domain, clock: Callable[[], datetime]) -> Iterator[dict]:
    """POS sale line events, deterministic for a seed and a clock."""
    rng = random.Random(seed)
    stores = WeightedPicker(domain.stores, [s.weight for s in domain.stores])
    by_category: dict[str, list] = {}
    for p in domain.products:
        by_category.setdefault(p.category, []).append(p)
    categories = list(by_category)
    loyal = domain.customers
    while True:
        sold = clock()
        store = stores.pick(rng)
        # rain: a share of would-be receipts never happen (the clock already shaped the hour)
        if rng.random() > weather_factor(weather_for(domain.seed, store.city, sold.date())) / 1.05:
            continue
        day = sold.date()
        promo = {c.category for c in domain.active_campaigns(day, "in_store") if c.category}
        weights = [_CATEGORY_BY_HOUR[c](sold.hour) * (1.6 if c in promo else 1.0) for c in categories]
        customer = None
        if rng.random() < 0.35:
            candidate = rng.choice(loyal)
            if candidate.signed_up_on <= day and (candidate.churns_on is None or day < candidate.churns_on):
                customer = candidate.customer_id
        sale_id, payment, sold_at = new_id(rng), PAYMENT_METHODS.pick(rng), iso(sold)
        for line_number in range(1, rng.choice([1, 1, 2, 2, 3, 4, 5]) + 1):
            category = rng.choices(categories, weights)[0]
            product = rng.choice(by_category[category])
            quantity = rng.choice([1, 1, 1, 2, 2, 3, 6])
            discount = Decimal("0.00")
            if category in promo or rng.random() < 0.05:
                discount = (product.unit_price * quantity * Decimal("0.2")).quantize(Decimal("0.01"))
            yield {
                "event_id": new_id(rng),
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
            }
