"""Kafka → Bronze, Silver and quarantine, for every stream declared by a contract.

One parameterised job, not a copy per stream: :func:`build_statements` turns contracts
into Flink SQL (pure, testable without a cluster) and :func:`main` runs it on the cluster
configured by the settings, with exactly-once checkpoints (Iceberg commits on checkpoint).

    flink run -py flink_jobs/ingest.py [--streams pos_sales,...]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import timedelta

from headwater.contracts import Contract, load_contract, stream_contracts
from headwater.contracts.aggregates import Aggregate, aggregates
from headwater.contracts.flink import not_after, parse_expr, quote, reason_exprs

JOB_NAME = "headwater-ingest"
PAYLOAD = "CAST(`kafka_value` AS STRING)"


@dataclass(frozen=True)
class Sinks:
    """Where the job writes: the Flink catalog name registered for Iceberg."""

    catalog: str

    def table(self, namespace: str, name: str) -> str:
        return f"{quote(self.catalog)}.{quote(namespace)}.{quote(name)}"


def interval(delta: timedelta) -> str:
    """A Flink SQL interval literal in the largest unit that divides the duration."""
    ms = int(delta.total_seconds() * 1000)
    for unit, size in (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000)):
        if ms and ms % size == 0 and ms // size < 100:
            return f"INTERVAL '{ms // size}' {unit}"
    return f"INTERVAL '{ms / 1000:.3f}' SECOND(3)"


def _options(options: dict[str, str]) -> str:
    return ",\n  ".join(f"'{k}' = '{v}'" for k, v in options.items())


def source_ddl(contract: Contract, kafka_options: dict[str, str]) -> str:
    """A Kafka source with the raw key and value, Kafka metadata and an event-time watermark.

    The value stays raw bytes so Bronze can keep every record, however malformed; event
    time comes from the payload, falling back to the Kafka timestamp when the payload has
    none (a NULL rowtime would fail the watermark operator).
    """
    parsed = parse_expr(contract.field(contract.event_time), PAYLOAD)
    # a far-future event time (broken clock) must not drag the watermark ahead of every other event
    event_time = f"CASE WHEN {parsed} <= {not_after(contract)} THEN {parsed} END"
    options = {
        "connector": "kafka",
        "topic": contract.topic,
        "key.format": "raw",
        "key.fields": "kafka_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        "properties.isolation.level": "read_committed",
        "scan.topic-partition-discovery.interval": "60s",
        **kafka_options,
    }
    return f"""CREATE TEMPORARY TABLE {quote('kafka_' + contract.name)} (
  `kafka_key` BYTES,
  `kafka_value` BYTES,
  `kafka_headers` MAP<STRING, BYTES> METADATA FROM 'headers',
  `kafka_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `kafka_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `event_time` AS COALESCE({event_time}, `kafka_timestamp`),
  `proc_time` AS PROCTIME(),
  WATERMARK FOR `event_time` AS `event_time` - {interval(contract.watermark_delay)}
) WITH (
  {_options(options)}
)"""


def parsed_view_ddl(contract: Contract) -> str:
    """Typed fields, the reason a record breaks its contract (NULL if none) and lineage."""
    reason, detail = reason_exprs(contract, "`kafka_value`", "`kafka_key`")
    fields = ",\n  ".join(f"{parse_expr(f, PAYLOAD)} AS {quote(f.name)}" for f in contract.fields)
    event_time = parse_expr(contract.field(contract.event_time), PAYLOAD)
    return f"""CREATE TEMPORARY VIEW {quote(contract.name + '_parsed')} AS
SELECT
  {fields},
  -- lateness is measured against the record's Kafka timestamp (when it was sent), not the job's
  -- watermark, so a record replayed after a failure or restore is routed exactly as before
  COALESCE(TIMESTAMPDIFF(SECOND, {event_time}, `kafka_timestamp`) > {int(contract.watermark_delay.total_seconds())},
           FALSE) AS `is_late`,
  COALESCE(TIMESTAMPDIFF(SECOND, {event_time}, `kafka_timestamp`) > {int(contract.allowed_lateness.total_seconds())},
           FALSE) AS `beyond_lateness`,
  TIMESTAMPDIFF(SECOND, {event_time}, `kafka_timestamp`) AS `lateness_seconds`,
  {event_time} AS `parsed_event_time`,
  {reason} AS `reason`,
  {detail} AS `detail`,
  `kafka_key`, `kafka_value`, `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`,
  `proc_time`
FROM {quote('kafka_' + contract.name)}"""


def bronze_insert(contract: Contract, sinks: Sinks) -> str:
    """Every record as received: Bronze never drops anything."""
    return f"""INSERT INTO {sinks.table('bronze', contract.name)}
SELECT `kafka_key`, `kafka_value`, `kafka_headers`, `kafka_topic`, `kafka_partition`, `kafka_offset`,
  `kafka_timestamp`, CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote('kafka_' + contract.name)}"""


def deduped_view_ddl(contract: Contract) -> str:
    """Valid records within the allowed lateness, first occurrence of each key only (keyed state, TTL-bounded)."""
    return f"""CREATE TEMPORARY VIEW {quote(contract.name + '_deduped')} AS
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY {quote(contract.key)} ORDER BY `proc_time` ASC) AS `row_num`
  FROM {quote(contract.name + '_parsed')}
  WHERE `reason` IS NULL AND NOT `beyond_lateness`
)
WHERE `row_num` = 1"""


def silver_insert(contract: Contract, sinks: Sinks) -> str:
    """The deduplicated records, typed, with lateness and lineage."""
    columns = ", ".join(quote(f.name) for f in contract.fields)
    return f"""INSERT INTO {sinks.table('silver', contract.name)}
SELECT {columns}, `is_late`, `kafka_partition`, `kafka_offset`, CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote(contract.name + '_deduped')}"""


def aggregate_insert(agg: Aggregate, sinks: Sinks) -> str:
    """An upsert of a declared Silver aggregate (sql/silver/<name>.sql) over its deduplicated stream."""
    return f"INSERT INTO {sinks.table('silver', agg.name)}\n{agg.select(quote(agg.source + '_deduped'))}"


def late_events_insert(contract: Contract, sinks: Sinks) -> str:
    """Valid records that arrived later than the contract allows, with how late they were."""
    key = parse_expr(contract.field(contract.key), PAYLOAD)
    return f"""INSERT INTO {sinks.table('silver', 'late_events')}
SELECT '{contract.name}' AS `stream`, {key} AS `event_id`, `parsed_event_time` AS `event_time`,
  CAST(`lateness_seconds` AS BIGINT) AS `lateness_seconds`,
  CAST({int(contract.allowed_lateness.total_seconds())} AS BIGINT) AS `allowed_lateness_seconds`,
  `kafka_key`, `kafka_value`, `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`,
  CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote(contract.name + '_parsed')}
WHERE `reason` IS NULL AND `beyond_lateness`"""


def quarantine_insert(contract: Contract, sinks: Sinks) -> str:
    """Records that break the contract, with the reason code and detail."""
    return f"""INSERT INTO {sinks.table('silver', 'quarantine')}
SELECT '{contract.name}' AS `stream`, `reason`, `detail`, `kafka_key`, `kafka_value`, `kafka_topic`,
  `kafka_partition`, `kafka_offset`, `kafka_timestamp`, CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote(contract.name + '_parsed')}
WHERE `reason` IS NOT NULL"""


def build_statements(contracts: list[Contract], kafka_options: dict[str, str],
                     sinks: Sinks) -> tuple[list[str], list[str]]:
    """(DDL to run first, INSERTs to run together as one job) for the given streams."""
    ddl, inserts = [], []
    for c in contracts:
        ddl += [source_ddl(c, kafka_options), parsed_view_ddl(c), deduped_view_ddl(c)]
        inserts += [bronze_insert(c, sinks), silver_insert(c, sinks), quarantine_insert(c, sinks),
                    late_events_insert(c, sinks)]
    names = {c.name for c in contracts}
    inserts += [aggregate_insert(agg, sinks) for agg in aggregates() if agg.source in names]
    return ddl, inserts


def catalog_ddl(name: str, properties: dict[str, str]) -> str:
    props = {"type": "iceberg", **properties}
    return f"CREATE CATALOG {quote(name)} WITH (\n  {_options(props)}\n)"


def dedup_ttl(contracts: list[Contract]) -> timedelta:
    """How long an event id is remembered: a day beyond the largest allowed lateness."""
    return max(c.allowed_lateness for c in contracts) + timedelta(days=1)


def main(argv: list[str] | None = None) -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from headwater.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="", help="comma-separated contract names (default: all Kafka streams)")
    args, _ = parser.parse_known_args(argv)
    contracts = ([load_contract(n) for n in args.streams.split(",") if n] or stream_contracts())

    settings = load_settings()
    tenv = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = tenv.get_config()
    for key, value in {
        "pipeline.name": JOB_NAME,
        "execution.checkpointing.interval": f"{settings.flink.checkpoint_interval_s} s",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "table.local-time-zone": "UTC",
        # one quiet partition or stream must not hold back the watermark of the others
        "table.exec.source.idle-timeout": "30 s",
        "table.exec.state.ttl": f"{int(dedup_ttl(contracts).total_seconds())} s",
    }.items():
        conf.set(key, value)

    catalog = settings.catalog.name
    tenv.execute_sql(catalog_ddl(catalog, settings.iceberg_catalog_properties()))
    kafka_options = {"properties.bootstrap.servers": settings.kafka.bootstrap_servers,
                     "properties.group.id": JOB_NAME}
    kafka_options.update({f"properties.{k}": v for k, v in settings.kafka.client_properties.items()})
    ddl, inserts = build_statements(contracts, kafka_options, Sinks(catalog))
    for statement in ddl:
        tenv.execute_sql(statement)
    statement_set = tenv.create_statement_set()
    for statement in inserts:
        statement_set.add_insert_sql(statement)
    statement_set.execute()


if __name__ == "__main__":
    main()
