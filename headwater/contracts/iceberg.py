"""Iceberg schemas and partition specs derived from contracts (Bronze, Silver, quarantine).

Every column is optional: a contract's ``required`` is enforced by routing broken records
to quarantine, and the engines' write paths treat nullable expressions as nullable.
"""

from __future__ import annotations

import re

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, HourTransform, IdentityTransform, MonthTransform, YearTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    MapType,
    NestedField,
    StringType,
    TimestamptzType,
)

from headwater.contracts import Contract, Field

_SCALAR: dict[str, IcebergType] = {
    "string": StringType(),
    "int": IntegerType(),
    "long": LongType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "timestamp": TimestamptzType(),
    "date": DateType(),
}
_TRANSFORMS = {"hour": HourTransform, "day": DayTransform, "month": MonthTransform, "year": YearTransform,
               "identity": IdentityTransform}
_PARTITION = re.compile(r"^(\w+)\((\w+)\)$")

#: Table properties of every headwater table.
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    "write.target-file-size-bytes": str(128 * 1024 * 1024),
    # streaming commits every checkpoint: keep the metadata log bounded
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
}

# Kafka coordinates shared by Bronze, Silver and quarantine rows
_KAFKA_META = [
    ("kafka_topic", StringType()),
    ("kafka_partition", IntegerType()),
    ("kafka_offset", LongType()),
    ("kafka_timestamp", TimestamptzType()),
]


def iceberg_type(f: Field) -> IcebergType:
    if f.decimal:
        return DecimalType(*f.decimal)
    return _SCALAR[f.type]


def _schema(columns: list[tuple[str, IcebergType, str]]) -> Schema:
    fields = []
    next_id = 1
    for name, typ, doc in columns:
        if isinstance(typ, MapType):
            typ = MapType(key_id=next_id + 1, key_type=typ.key_type, value_id=next_id + 2,
                          value_type=typ.value_type, value_required=False)
            fields.append(NestedField(next_id, name, typ, required=False, doc=doc or None))
            next_id += 3
            continue
        fields.append(NestedField(next_id, name, typ, required=False, doc=doc or None))
        next_id += 1
    return Schema(*fields)


def bronze_schema() -> Schema:
    """Bronze: each Kafka record exactly as received, with its coordinates."""
    return _schema([
        ("kafka_key", BinaryType(), "record key bytes as received"),
        ("kafka_value", BinaryType(), "record value bytes as received"),
        ("kafka_headers", MapType(0, StringType(), 0, BinaryType(), value_required=False), "record headers"),
        *[(n, t, "") for n, t in _KAFKA_META],
        ("ingested_at", TimestamptzType(), "when the ingest job read the record"),
    ])


def silver_schema(contract: Contract) -> Schema:
    """Silver: the contract's fields, typed, plus lateness and lineage columns."""
    return _schema([
        *[(f.name, iceberg_type(f), f.description) for f in contract.fields],
        ("is_late", BooleanType(), "event time was behind the watermark when it arrived"),
        ("kafka_partition", IntegerType(), ""),
        ("kafka_offset", LongType(), ""),
        ("ingested_at", TimestamptzType(), ""),
    ])


def quarantine_schema() -> Schema:
    """silver.quarantine: records of any stream that broke their contract, with the reason."""
    return _schema([
        ("stream", StringType(), "contract name"),
        ("reason", StringType(), "invalid_json | missing_field | wrong_type | out_of_range | unknown_enum"),
        ("detail", StringType(), "which field and value broke which rule"),
        ("kafka_key", BinaryType(), ""),
        ("kafka_value", BinaryType(), ""),
        *[(n, t, "") for n, t in _KAFKA_META],
        ("ingested_at", TimestamptzType(), ""),
    ])


def late_events_schema() -> Schema:
    """silver.late_events: valid records of any stream that arrived later than its contract allows."""
    return _schema([
        ("stream", StringType(), "contract name"),
        ("event_id", StringType(), "the record's key"),
        ("event_time", TimestamptzType(), ""),
        ("lateness_seconds", LongType(), "Kafka timestamp minus event time"),
        ("allowed_lateness_seconds", LongType(), "the contract's allowed lateness"),
        ("kafka_key", BinaryType(), ""),
        ("kafka_value", BinaryType(), ""),
        *[(n, t, "") for n, t in _KAFKA_META],
        ("ingested_at", TimestamptzType(), ""),
    ])


def partition_spec(schema: Schema, transforms: list[str] | tuple[str, ...]) -> PartitionSpec:
    """A spec from transforms written like ``day(sold_at)`` or ``hour(ingested_at)``."""
    fields = []
    for i, text in enumerate(transforms):
        m = _PARTITION.match(text.replace(" ", ""))
        if not m or m.group(1) not in _TRANSFORMS:
            raise ValueError(f"bad partition transform {text!r}: use one of {sorted(_TRANSFORMS)}(column)")
        transform, column = m.groups()
        source = schema.find_field(column)
        fields.append(PartitionField(source_id=source.field_id, field_id=1000 + i,
                                     transform=_TRANSFORMS[transform](), name=f"{column}_{transform}"))
    return PartitionSpec(*fields)


def aggregate_schema(agg) -> Schema:
    """An aggregate's schema: its grain columns are required identifier fields (the upsert key)."""
    fields = [NestedField(i, c.name, iceberg_type(c), required=c.name in agg.grain, doc=c.description or None)
              for i, c in enumerate(agg.columns, start=1)]
    ids = [f.field_id for f in fields if f.name in agg.grain]
    return Schema(*fields, identifier_field_ids=ids)


def cdc_silver_schema(contract: Contract) -> Schema:
    """Silver mirror of an OLTP table: its columns (the key required, the upsert key) and lineage."""
    fields = [NestedField(i, f.name, iceberg_type(f), required=f.name == contract.key, doc=f.description or None)
              for i, f in enumerate(contract.fields, start=1)]
    n = len(fields)
    fields += [NestedField(n + 1, "source_ts", TimestamptzType(), required=False,
                           doc="commit time of the change in the source database"),
               NestedField(n + 2, "ingested_at", TimestamptzType(), required=False)]
    key_id = next(f.field_id for f in fields if f.name == contract.key)
    return Schema(*fields, identifier_field_ids=[key_id])


#: Extra table properties of upsert tables: the Flink sink writes equality deletes for updated rows.
UPSERT_PROPERTIES = {"write.upsert.enabled": "true"}


def table_definitions(contracts: list[Contract]) -> dict[str, tuple[Schema, PartitionSpec]]:
    """Every table the streaming layer writes, by ``namespace.table``."""
    out: dict[str, tuple[Schema, PartitionSpec]] = {}
    bronze = bronze_schema()
    for c in contracts:
        if c.changes_topic:
            # CDC: Bronze keeps each change event; Silver mirrors the table (unpartitioned: an upsert
            # table's partition columns must be part of its key)
            out[f"bronze.{c.changes_topic}"] = (bronze, partition_spec(bronze, ["hour(ingested_at)"]))
            out[f"silver.{c.name}"] = (cdc_silver_schema(c), PartitionSpec())
            continue
        out[f"bronze.{c.name}"] = (bronze, partition_spec(bronze, ["hour(ingested_at)"]))
        silver = silver_schema(c)
        out[f"silver.{c.name}"] = (silver, partition_spec(silver, c.partitioning))
    quarantine = quarantine_schema()
    out["silver.quarantine"] = (quarantine, partition_spec(quarantine, ["day(ingested_at)"]))
    late = late_events_schema()
    out["silver.late_events"] = (late, partition_spec(late, ["day(ingested_at)"]))
    from headwater.contracts.aggregates import aggregates

    names = {c.name for c in contracts}
    for agg in aggregates():
        if agg.source in names:
            schema = aggregate_schema(agg)
            out[f"silver.{agg.name}"] = (schema, partition_spec(schema, agg.partitioning))
    return out
