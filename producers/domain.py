"""Master data of the bakery-café chain, generated once per seed.

Faker is slow per call, so everything a generator picks from is made here up front;
the per-event path only draws from these lists with a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from faker import Faker

CITIES = ["Lyon", "Paris", "Bordeaux", "Lille", "Nantes", "Marseille", "Toulouse"]
CATEGORIES = {
    "bread": (["baguette", "sourdough loaf", "rye bread", "brioche", "focaccia", "multigrain"], (1.2, 6.5)),
    "viennoiserie": (["croissant", "pain au chocolat", "almond croissant", "chausson aux pommes"], (1.1, 3.9)),
    "pastry": (["éclair", "tarte au citron", "mille-feuille", "paris-brest", "macaron box", "fraisier"], (2.8, 24.0)),
    "sandwich": (["jambon-beurre", "chicken club", "caprese", "tuna niçoise", "veggie wrap"], (4.5, 9.5)),
    "drink": (["espresso", "cappuccino", "latte", "hot chocolate", "orange juice", "iced tea"], (1.8, 5.2)),
}
DEVICE_TYPES = {  # type: (normal temperature °C, normal power kW)
    "deck_oven": (230.0, 18.0),
    "convection_oven": (190.0, 9.0),
    "proofer": (32.0, 1.5),
    "espresso_machine": (93.0, 3.0),
    "refrigerator": (4.0, 0.8),
}
#: Day zero of the synthetic world: histories (signups, failures, campaigns) are laid out from here.
EPOCH = date(2026, 1, 1)


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    city: str
    address: str
    opened_on: date
    seats: int
    has_delivery: bool
    #: relative traffic of the store
    weight: float


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    unit_price: Decimal
    unit_cost: Decimal
    shelf_life_hours: int


@dataclass(frozen=True)
class Customer:
    customer_id: str
    full_name: str
    email: str
    city: str
    signed_up_on: date
    #: after this day the customer stops buying (churn); None for those who stay
    churns_on: date | None
    #: visits per week while active
    frequency: float


@dataclass(frozen=True)
class Device:
    device_id: str
    store_id: str
    device_type: str
    model: str
    installed_on: date
    #: moments the device breaks down; it degrades for days before each
    failures: tuple[datetime, ...]


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    channel: str
    category: str | None
    discount_pct: int
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class Domain:
    seed: int
    stores: tuple[Store, ...]
    products: tuple[Product, ...]
    customers: tuple[Customer, ...]
    devices: tuple[Device, ...]
    campaigns: tuple[Campaign, ...]

    @property
    def customer_ids(self) -> tuple[str, ...]:
        return tuple(c.customer_id for c in self.customers)

    def active_campaigns(self, day: date, channel: str | None = None) -> list[Campaign]:
        return [c for c in self.campaigns
                if c.starts_on <= day <= c.ends_on and (channel is None or c.channel == channel)]


@lru_cache(maxsize=8)
def build_domain(seed: int, n_stores: int = 20, n_products: int = 150, n_customers: int = 50_000,
                 n_devices: int = 100) -> Domain:
    """The chain's stores, products, customers, devices and campaigns for a seed (deterministic)."""
    rng = random.Random(seed)
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    stores = tuple(
        Store(f"S{i:03d}", f"Maison {fake.last_name()}", city := rng.choice(CITIES), fake.street_address(),
              EPOCH - timedelta(days=rng.randint(200, 4000)), rng.randint(0, 60), rng.random() < 0.7,
              round(rng.uniform(0.5, 2.0), 2))
        for i in range(1, n_stores + 1)
    )
    del city
    products = []
    categories = list(CATEGORIES.items())
    words = [fake.word() for _ in range(200)]
    for i in range(1, n_products + 1):
        category, (names, (lo, hi)) = categories[(i - 1) % len(categories)]
        variant = "" if i <= len(categories) * 2 else f" {rng.choice(words)}"
        price = Decimal(str(round(rng.uniform(lo, hi), 1))).quantize(Decimal("0.01"))
        cost = (price * Decimal(str(round(rng.uniform(0.25, 0.45), 2)))).quantize(Decimal("0.01"))
        products.append(Product(f"P{i:04d}", f"{rng.choice(names)}{variant}", category, price, cost,
                                rng.choice([12, 24, 48, 72, 168, 720]) if category != "drink" else 720))
    # names are drawn from small pools: Faker per customer would take seconds for 50,000
    first, last = [fake.first_name() for _ in range(300)], [fake.last_name() for _ in range(300)]
    customers = []
    for i in range(1, n_customers + 1):
        f, la = rng.choice(first), rng.choice(last)
        signed = EPOCH - timedelta(days=rng.randint(-300, 1500))
        churns = signed + timedelta(days=rng.randint(60, 600)) if rng.random() < 0.18 else None
        customers.append(Customer(f"C{i:06d}", f"{f} {la}", f"{f}.{la}.{i}@example.org".lower().replace(" ", ""),
                                  rng.choice(CITIES), signed, churns, round(rng.lognormvariate(0, 0.8), 2)))
    devices = []
    types = list(DEVICE_TYPES)
    for i in range(1, n_devices + 1):
        store = stores[(i - 1) % len(stores)]
        day_zero = datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC)
        failures = tuple(sorted(day_zero + timedelta(days=rng.uniform(0, 730))
                                for _ in range(rng.choice([1, 2, 2, 3, 4]))))
        devices.append(Device(f"D{i:04d}", store.store_id, types[(i - 1) % len(types)],
                              f"{rng.choice(['Bongard', 'Pavailler', 'Rational', 'La Marzocco', 'Foster'])}"
                              f"-{rng.randint(100, 999)}",
                              EPOCH - timedelta(days=rng.randint(30, 2000)), failures))
    campaigns = []
    for i in range(1, 41):
        start = EPOCH + timedelta(days=rng.randint(0, 700))
        campaigns.append(Campaign(f"K{i:03d}", f"{rng.choice(['Fête du pain', 'Goûter', 'Rentrée', 'Hiver'])} {i}",
                                  rng.choice(["email", "social", "paid_search", "in_store"]),
                                  rng.choice([None, *CATEGORIES]), rng.choice([10, 15, 20, 30]),
                                  start, start + timedelta(days=rng.randint(5, 21))))
    return Domain(seed, stores, tuple(products), tuple(customers), tuple(devices), tuple(campaigns))

