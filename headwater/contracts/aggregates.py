"""Real-time aggregates of the Silver layer, declared in ``sql/silver/<name>.yaml`` (grain,
columns, partitioning) beside ``sql/silver/<name>.sql`` (the select over the deduplicated
source stream, written ``{source}``).

They are upsert tables keyed by their grain: the job aggregates without window operators,
so a late event (within its stream's allowed lateness) updates the row of its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from headwater import PROJECT_ROOT
from headwater.contracts import ContractError, Field, _field, load_contract

SQL_DIR = PROJECT_ROOT / "sql" / "silver"


@dataclass(frozen=True)
class Aggregate:
    name: str
    source: str
    description: str
    grain: tuple[str, ...]
    partitioning: tuple[str, ...]
    columns: tuple[Field, ...]
    select_sql: str

    def select(self, source_view: str) -> str:
        return self.select_sql.replace("{source}", source_view)


def _load(path: Path) -> Aggregate:
    data = yaml.safe_load(path.read_text())
    where = str(path.relative_to(PROJECT_ROOT))
    sql_path = path.with_suffix(".sql")
    if not sql_path.exists():
        raise ContractError(f"{where}: its select {sql_path.name} is missing")
    columns = tuple(_field({**c, "required": c["name"] in data["grain"]}, f"{where}.columns")
                    for c in data["columns"])
    agg = Aggregate(data["name"], data["source"], data.get("description", ""), tuple(data["grain"]),
                    tuple(data.get("partitioning") or ()), columns,
                    "\n".join(line for line in sql_path.read_text().splitlines() if not line.startswith("--")))
    names = {c.name for c in columns}
    if not set(agg.grain) <= names:
        raise ContractError(f"{where}: grain {agg.grain} names columns it does not declare")
    load_contract(agg.source)  # the source must be a declared stream
    return agg


@cache
def aggregates() -> tuple[Aggregate, ...]:
    """Every declared Silver aggregate."""
    return tuple(_load(p) for p in sorted(SQL_DIR.glob("*.yaml")))
