"""Trino views derived from contracts: the contract's fields of a Silver table, named and
commented for BI users, without the lineage columns the pipeline adds.
"""

from __future__ import annotations

from headwater.contracts import Contract, Field
from headwater.contracts.types import engine_type


def trino_type(f: Field) -> str:
    return engine_type(f, "trino")


def view_name(contract: Contract) -> str:
    """Views live beside their table: ``silver.<name>_v``."""
    return f"{contract.name}_v"


def view_sql(contract: Contract, catalog: str) -> str:
    """``create or replace view`` over ``<catalog>.silver.<name>`` with one cast column per contract field."""
    cols = ",\n  ".join(f"cast({f.name} as {trino_type(f)}) as {f.name}" for f in contract.fields)
    return (f"create or replace view {catalog}.silver.{view_name(contract)}\n"
            f"comment '{contract.description.replace(chr(39), chr(39) * 2)}'\n"
            f"security invoker as\nselect\n  {cols},\n  is_late\nfrom {catalog}.silver.{contract.name}")
