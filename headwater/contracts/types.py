"""Each contract type's name in every engine, in one table."""

from __future__ import annotations

from headwater.contracts import Field

ENGINES = ("flink", "spark", "trino", "postgres")
#: contract type -> engine -> type name
TYPE_NAMES: dict[str, dict[str, str]] = {
    "string": {"flink": "STRING", "spark": "STRING", "trino": "varchar", "postgres": "text"},
    "int": {"flink": "INT", "spark": "INT", "trino": "integer", "postgres": "integer"},
    "long": {"flink": "BIGINT", "spark": "BIGINT", "trino": "bigint", "postgres": "bigint"},
    "double": {"flink": "DOUBLE", "spark": "DOUBLE", "trino": "double", "postgres": "double precision"},
    "boolean": {"flink": "BOOLEAN", "spark": "BOOLEAN", "trino": "boolean", "postgres": "boolean"},
    "timestamp": {"flink": "TIMESTAMP_LTZ(3)", "spark": "TIMESTAMP", "trino": "timestamp(6) with time zone",
                  "postgres": "timestamptz"},
    "date": {"flink": "DATE", "spark": "DATE", "trino": "date", "postgres": "date"},
}
DECIMAL = {"flink": "DECIMAL({p}, {s})", "spark": "DECIMAL({p},{s})", "trino": "decimal({p}, {s})",
           "postgres": "numeric({p},{s})"}


def engine_type(f: Field, engine: str) -> str:
    """The type of a contract field in one engine's SQL."""
    if f.decimal:
        return DECIMAL[engine].format(p=f.decimal[0], s=f.decimal[1])
    return TYPE_NAMES[f.type][engine]
