"""Master data pools of the bakery-café chain, generated once per seed.

Faker is slow per call, so everything a generator picks from is made here up front;
the per-event path only draws from these lists with a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    city: str


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    unit_price: Decimal


@dataclass(frozen=True)
class Domain:
    stores: tuple[Store, ...]
    products: tuple[Product, ...]
    customer_ids: tuple[str, ...]


@lru_cache(maxsize=8)
def build_domain(seed: int, n_stores: int = 20, n_products: int = 150, n_customers: int = 50_000) -> Domain:
    """The chain's stores, products and customers for a seed (deterministic)."""
    rng = random.Random(seed)
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    stores = tuple(
        Store(f"S{i:03d}", f"Maison {fake.last_name()}", rng.choice(CITIES)) for i in range(1, n_stores + 1)
    )
    products = []
    categories = list(CATEGORIES.items())
    for i in range(1, n_products + 1):
        category, (names, (lo, hi)) = categories[(i - 1) % len(categories)]
        base = rng.choice(names)
        variant = "" if i <= len(categories) * 2 else f" {fake.word()}"
        price = Decimal(str(round(rng.uniform(lo, hi), 1))).quantize(Decimal("0.01"))
        products.append(Product(f"P{i:04d}", f"{base}{variant}", category, price))
    customers = tuple(f"C{i:06d}" for i in range(1, n_customers + 1))
    return Domain(stores, tuple(products), customers)
