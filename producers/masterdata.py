"""Master-data writer: one drop of CRM/ERP files per day in the landing folder.

Each drop is a full snapshot of a dataset as of its file date, as ERP and CRM exports are:
``<landing>/<dataset>/<dataset>_<YYYY-MM-DD>.<csv|json>``. History changes between drops
so that Gold's SCD Type 2 dimensions have something to track: list prices change, stores
are renamed and move, customers change segment and churn.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from headwater.contracts import contracts, load_contract
from producers.domain import EPOCH, Domain
from producers.signals import weather_for


def _changes(seed: int, key: str, day: date, per_year: float) -> int:
    """How many changes an entity has had by ``day`` (change days drawn once per seed and key)."""
    rng = random.Random(f"{seed}:{key}")
    expected = per_year * 2  # over the two years of the synthetic world
    n = int(expected) + (1 if rng.random() < expected % 1 else 0)
    days = sorted(EPOCH + timedelta(days=rng.randint(1, 730)) for _ in range(n))
    return sum(1 for d in days if d <= day)


def snapshot(domain: Domain, dataset: str, day: date) -> list[dict]:
    """Rows of one dataset as the source system exports them on ``day``."""
    seed = domain.seed
    if dataset == "stores":
        out = []
        for s in domain.stores:
            renamed = _changes(seed, f"rename:{s.store_id}", day, 0.3)
            moved = _changes(seed, f"move:{s.store_id}", day, 0.2)
            out.append({"store_id": s.store_id, "name": s.name + (f" {['', 'II', 'III', 'IV'][renamed % 4]}"
                                                                  if renamed else ""),
                        "city": s.city, "address": s.address if not moved else f"{moved * 12} place du Marché",
                        "opened_on": s.opened_on.isoformat(), "seats": s.seats, "has_delivery": s.has_delivery})
        return out
    if dataset == "products":
        out = []
        for p in domain.products:
            k = _changes(seed, f"price:{p.product_id}", day, 1.5)
            price = (p.unit_price * (Decimal("1.04") ** k)).quantize(Decimal("0.01"))
            retired = _changes(seed, f"retire:{p.product_id}", day, 0.05) > 0
            out.append({"product_id": p.product_id, "name": p.name, "category": p.category,
                        "unit_price": str(price), "unit_cost": str(p.unit_cost),
                        "shelf_life_hours": p.shelf_life_hours, "active": not retired})
        return out
    if dataset == "customers":
        out = []
        for c in domain.customers:
            if c.signed_up_on > day:
                continue
            if c.churns_on and day >= c.churns_on + timedelta(days=60):
                segment = "lapsed"
            elif (day - c.signed_up_on).days < 30:
                segment = "new"
            elif c.frequency > 1.5 and (day - c.signed_up_on).days > 180:
                segment = "loyal"
            else:
                segment = "regular"
            out.append({"customer_id": c.customer_id, "full_name": c.full_name, "email": c.email, "city": c.city,
                        "segment": segment, "signed_up_on": c.signed_up_on.isoformat(),
                        "marketing_opt_in": int(c.customer_id[1:]) % 3 != 0})
        return out
    if dataset == "campaigns":
        return [{"campaign_id": k.campaign_id, "name": k.name, "channel": k.channel, "category": k.category,
                 "discount_pct": k.discount_pct, "starts_on": k.starts_on.isoformat(),
                 "ends_on": k.ends_on.isoformat()}
                for k in domain.campaigns if k.starts_on <= day + timedelta(days=14)]
    if dataset == "weather":
        return [weather_for(seed, city, day) for city in sorted({s.city for s in domain.stores})]
    if dataset == "equipment":
        return [{"device_id": d.device_id, "store_id": d.store_id, "device_type": d.device_type, "model": d.model,
                 "installed_on": d.installed_on.isoformat()} for d in domain.devices]
    raise ValueError(f"no master-data generator for {dataset!r}")


def render(dataset: str, rows: list[dict]) -> bytes:
    """A file in the contract's format: CSV with a header, or JSON lines."""
    contract = load_contract(dataset)
    if contract.file_format == "json":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in contract.fields], lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in r.items()})
    return buf.getvalue().encode()


def drop_path(landing: Path, dataset: str, day: date) -> Path:
    ext = load_contract(dataset).file_format
    return landing / dataset / f"{dataset}_{day.isoformat()}.{ext}"


def write_drop(domain: Domain, landing: Path, day: date) -> list[Path]:
    """Write every dataset's file for ``day`` (atomically: readers never see half a file)."""
    written = []
    for contract in contracts("files"):
        path = drop_path(landing, contract.name, day)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(render(contract.name, snapshot(domain, contract.name, day)))
        os.replace(tmp, path)
        written.append(path)
    return written


def landed_days(landing: Path) -> list[date]:
    """Days for which a complete drop (every dataset) is in the landing folder."""
    names = [c.name for c in contracts("files")]
    days = None
    for name in names:
        have = {date.fromisoformat(p.stem.rsplit("_", 1)[1]) for p in (landing / name).glob(f"{name}_*.*")
                if not p.name.endswith(".part")}
        days = have if days is None else days & have
    return sorted(days or [])
