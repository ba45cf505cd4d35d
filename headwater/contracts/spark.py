"""Spark schemas derived from a contract (a DDL string Spark parses: no pyspark import needed here)."""

from __future__ import annotations

from headwater.contracts import Contract, Field
from headwater.contracts.types import engine_type


def spark_type(f: Field) -> str:
    return engine_type(f, "spark")


def spark_schema_ddl(contract: Contract) -> str:
    """``"event_id STRING NOT NULL COMMENT '...', ..."`` for ``spark.read.schema(...)`` and table DDL.

    Master-data files are read with it (Gold); NOT NULL marks the contract's required fields.
    """
    cols = []
    for f in contract.fields:
        col = f"`{f.name}` {spark_type(f)}"
        if f.required:
            col += " NOT NULL"
        if f.description:
            col += " COMMENT '" + f.description.replace("'", "\\'") + "'"
        cols.append(col)
    return ", ".join(cols)
