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

from headwater.contracts import Contract, cdc_contracts, load_contract, stream_contracts
from headwater.contracts.aggregates import Aggregate, aggregates
from headwater.contracts.flink import (
    FUNCTION_DDLS,
    TYPED_PREFIX,
    event_time_expr,
    flink_type,
    parsed_select,
    quote,
)

JOB_NAME = "headwater-ingest"
PAYLOAD = "CAST(`kafka_value` AS STRING)"


@dataclass(frozen=True)
class Sinks:
    """Where the job writes: the Flink catalog name registered for Iceberg, and a namespace prefix
    (empty in production; benchmarks write to ``bench_bronze``, ``bench_silver``)."""

    catalog: str
    prefix: str = ""

    def table(self, namespace: str, name: str) -> str:
        return f"{quote(self.catalog)}.{quote(self.prefix + namespace)}.{quote(name)}"


def interval(delta: timedelta) -> str:
    """A Flink SQL interval literal in the largest unit that divides the duration."""
    ms = int(delta.total_seconds() * 1000)
    for unit, size in (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000)):
        if ms and ms % size == 0 and ms // size < 100:
            return f"INTERVAL '{ms // size}' {unit}"
    return f"INTERVAL '{ms / 1000:.3f}' SECOND(3)"


def _options(options: dict[str, str]) -> str:
    return ",\n  ".join(f"'{k}' = '{v}'" for k, v in options.items())


#: The columns of a raw Kafka source: key and value bytes, and the record's coordinates.
RAW_COLUMNS = """`kafka_key` BYTES,
  `kafka_value` BYTES,
  `kafka_headers` MAP<STRING, BYTES> METADATA FROM 'headers',
  `kafka_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `kafka_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL"""


def _raw_options(topic: str) -> dict[str, str]:
    """Options of a Kafka source that keeps key and value as bytes, from the committed offsets."""
    return {
        "connector": "kafka",
        "topic": topic,
        "key.format": "raw",
        "key.fields": "kafka_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        # never read aborted transactions (Debezium writes in Kafka transactions: exactly-once source)
        "properties.isolation.level": "read_committed",
    }


def source_ddl(contract: Contract, kafka_options: dict[str, str], topic_prefix: str = "") -> str:
    """A Kafka source with the raw key and value, Kafka metadata and an event-time watermark.

    The value stays raw bytes so Bronze can keep every record, however malformed; event
    time comes from the payload, falling back to the Kafka timestamp when the payload has
    none (a NULL rowtime would fail the watermark operator) or a far-future one (a broken clock
    must not drag the watermark ahead of every other event).
    """
    options = {**_raw_options(topic_prefix + contract.topic),
               "scan.topic-partition-discovery.interval": "60s", **kafka_options}
    return f"""CREATE TEMPORARY TABLE {quote('kafka_' + contract.name)} (
  {RAW_COLUMNS},
  `event_time` AS {event_time_expr(contract, '`kafka_value`')},
  `proc_time` AS PROCTIME(),
  WATERMARK FOR `event_time` AS `event_time` - {interval(contract.watermark_delay)}
) WITH (
  {_options(options)}
)"""


def parsed_view_ddl(contract: Contract) -> str:
    """Typed fields, the reason a record breaks its contract (NULL if none) and lineage."""
    fields = ",\n  ".join(f"{quote(TYPED_PREFIX + f.name)} AS {quote(f.name)}" for f in contract.fields)
    event_time = quote(TYPED_PREFIX + contract.event_time)
    lateness = f"TIMESTAMPDIFF(SECOND, {event_time}, `kafka_timestamp`)"
    inner = parsed_select(contract, quote("kafka_" + contract.name), "`kafka_value`", "`kafka_key`")
    return f"""CREATE TEMPORARY VIEW {quote(contract.name + '_parsed')} AS
SELECT
  {fields},
  -- lateness is measured against the record's Kafka timestamp (when it was sent), not the job's
  -- watermark, so a record replayed after a failure or restore is routed exactly as before
  COALESCE({lateness} > {int(contract.watermark_delay.total_seconds())}, FALSE) AS `is_late`,
  COALESCE({lateness} > {int(contract.allowed_lateness.total_seconds())}, FALSE) AS `beyond_lateness`,
  {lateness} AS `lateness_seconds`,
  {event_time} AS `parsed_event_time`,
  `reason`, `detail`,
  `kafka_key`, `kafka_value`, `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`,
  `proc_time`
FROM (
{inner}
)"""


def bronze_insert(topic: str, sinks: Sinks) -> str:
    """Every record of a topic as received, in ``bronze.<topic>``: Bronze never drops anything."""
    return f"""INSERT INTO {sinks.table('bronze', topic)}
SELECT `kafka_key`, `kafka_value`, `kafka_headers`, `kafka_topic`, `kafka_partition`, `kafka_offset`,
  `kafka_timestamp`, CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote('kafka_' + topic)}"""


def deduped_view_ddl(contract: Contract) -> str:
    """Valid records within the allowed lateness, first occurrence of each key only (keyed state, TTL-bounded)."""
    # only what Silver and the aggregates read crosses the shuffle: the planner does not prune
    # columns through the deduplication, and the raw value and key were most of every record's bytes
    columns = ", ".join(quote(f.name) for f in contract.fields)
    return f"""CREATE TEMPORARY VIEW {quote(contract.name + '_deduped')} AS
SELECT * FROM (
  SELECT {columns}, `is_late`, `kafka_partition`, `kafka_offset`,
    ROW_NUMBER() OVER (PARTITION BY {quote(contract.key)} ORDER BY `proc_time` ASC) AS `row_num`
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
    return f"""INSERT INTO {sinks.table('silver', 'late_events')}
SELECT '{contract.name}' AS `stream`, CAST({quote(contract.key)} AS STRING) AS `event_id`,
  `parsed_event_time` AS `event_time`,
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
                     sinks: Sinks, topic_prefix: str = "") -> tuple[list[str], list[str]]:
    """(DDL to run first, INSERTs to run together as one job) for the given streams."""
    ddl, inserts = list(FUNCTION_DDLS), []
    for c in contracts:
        if c.changes_topic:
            ddl += [cdc_raw_source_ddl(c, kafka_options, topic_prefix),
                    cdc_changelog_source_ddl(c, kafka_options, topic_prefix)]
            inserts += [bronze_insert(c.changes_topic, sinks), cdc_silver_insert(c, sinks),
                        cdc_quarantine_insert(c, sinks)]
            continue
        ddl += [source_ddl(c, kafka_options, topic_prefix), parsed_view_ddl(c), deduped_view_ddl(c)]
        inserts += [bronze_insert(c.name, sinks), silver_insert(c, sinks), quarantine_insert(c, sinks),
                    late_events_insert(c, sinks)]
    names = {c.name for c in contracts}
    inserts += [aggregate_insert(agg, sinks) for agg in aggregates() if agg.source in names]
    return ddl, inserts


# ---------------------------------------------------------------- CDC (Debezium change events)
#: Debezium operations: create, update, delete, and read (a row of the initial snapshot).
CDC_OPS = ("c", "u", "d", "r")


def cdc_raw_source_ddl(contract: Contract, kafka_options: dict[str, str], topic_prefix: str = "") -> str:
    """The change topic as raw records, for Bronze (no watermark: nothing downstream is windowed)."""
    options = {**_raw_options(topic_prefix + contract.changes_topic), **kafka_options}
    return f"""CREATE TEMPORARY TABLE {quote('kafka_' + contract.changes_topic)} (
  {RAW_COLUMNS}
) WITH (
  {_options(options)}
)"""


def cdc_changelog_source_ddl(contract: Contract, kafka_options: dict[str, str], topic_prefix: str = "") -> str:
    """The change topic decoded as a changelog: inserts, updates (before and after) and deletes."""
    options = {
        "connector": "kafka",
        "topic": topic_prefix + contract.changes_topic,
        "format": "debezium-json",
        "debezium-json.schema-include": "false",
        "debezium-json.timestamp-format.standard": "ISO-8601",
        # a record that is not a change event is quarantined by its own statement (see below)
        "debezium-json.ignore-parse-errors": "true",
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        "properties.isolation.level": "read_committed",
        **kafka_options,
        # its own consumer group: two sources of one topic must not overwrite each other's offsets
        "properties.group.id": f"{kafka_options.get('properties.group.id', JOB_NAME)}-cdc",
    }
    # microseconds, as PostgreSQL keeps them: the mirror must equal its source row for row
    columns = ",\n  ".join(f"{quote(f.name)} {'TIMESTAMP_LTZ(6)' if f.type == 'timestamp' else flink_type(f)}"
                           for f in contract.fields)
    return f"""CREATE TEMPORARY TABLE {quote('cdc_' + contract.name)} (
  {columns},
  `source_ts` TIMESTAMP_LTZ(3) METADATA FROM 'value.source.timestamp' VIRTUAL
) WITH (
  {_options(options)}
)"""


def cdc_silver_insert(contract: Contract, sinks: Sinks) -> str:
    """The mirror of the source table: an upsert by key (deletes remove the row)."""
    columns = ", ".join(quote(f.name) for f in contract.fields)
    return f"""INSERT INTO {sinks.table('silver', contract.name)}
SELECT {columns}, `source_ts`, CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote('cdc_' + contract.name)}
WHERE {quote(contract.key)} IS NOT NULL"""


def cdc_quarantine_insert(contract: Contract, sinks: Sinks) -> str:
    """Records on a change topic that are not Debezium change events (the changelog source skips them)."""
    op = f"JSON_VALUE({PAYLOAD}, '$.op')"
    ops = ", ".join(f"'{o}'" for o in CDC_OPS)
    keys = [f"JSON_VALUE({PAYLOAD}, '$.{side}.{contract.key}')" for side in ("after", "before")]
    return f"""INSERT INTO {sinks.table('silver', 'quarantine')}
SELECT '{contract.name}' AS `stream`, 'invalid_change_event' AS `reason`,
  CASE WHEN `kafka_value` IS NULL THEN 'empty record'
       WHEN {op} IS NULL THEN 'not a JSON change event (no op field)'
       WHEN {op} NOT IN ({ops}) THEN CONCAT('unknown op ', {op})
       ELSE 'no {contract.key} in the row' END AS `detail`,
  `kafka_key`, `kafka_value`, `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`,
  CURRENT_TIMESTAMP AS `ingested_at`
FROM {quote('kafka_' + contract.changes_topic)}
WHERE `kafka_value` IS NULL OR {op} IS NULL OR {op} NOT IN ({ops})
  OR COALESCE({keys[0]}, {keys[1]}) IS NULL"""


def catalog_ddl(name: str, properties: dict[str, str]) -> str:
    props = {"type": "iceberg", **properties}
    return f"CREATE CATALOG {quote(name)} WITH (\n  {_options(props)}\n)"


def dedup_ttl(contracts: list[Contract]) -> timedelta:
    """How long an event id is remembered: a day beyond the largest allowed lateness."""
    return max(c.allowed_lateness for c in contracts) + timedelta(days=1)


def main(argv: list[str] | None = None) -> None:
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from headwater.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="",
                        help="comma-separated contract names (default: every Kafka stream and CDC table)")
    parser.add_argument("--job-name", default=JOB_NAME, help="Flink job name, also its Kafka consumer group")
    parser.add_argument("--prefix", default="",
                        help="prefix of the topics read and the namespaces written (benchmarks: bench_)")
    args, _ = parser.parse_known_args(argv)
    contracts = ([load_contract(n) for n in args.streams.split(",") if n] or stream_contracts() + cdc_contracts())

    settings = load_settings()
    config = Configuration()
    for key, value in {
        "pipeline.name": args.job_name,
        "execution.checkpointing.interval": f"{settings.flink.checkpoint_interval_s} s",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "table.local-time-zone": "UTC",
        # one quiet partition or stream must not hold back the watermark of the others
        "table.exec.source.idle-timeout": "30 s",
        "table.exec.state.ttl": f"{int(dedup_ttl(contracts).total_seconds())} s",
        # the dedup looks up every event id, and nearly all are new: without a bloom filter each miss
        # searched RocksDB's files, 45 % of the dedup thread in the streaming bench's profile
        "state.backend.rocksdb.use-bloom-filter": "true",
        # CDC changelogs arrive ordered per key (Debezium keys its records by primary key), so the
        # sink needs no upsert materializer; it would also match a delete to its insert by the whole
        # row, which never matches once ingested_at is set per record, and silently drop deletes
        "table.exec.sink.upsert-materialize": "NONE",
        # chained operators pass records on without a defensive copy per consumer (the SQL runtime
        # never mutates a record it has emitted); copies were a seventh of the source thread's time.
        # A pipeline option: it takes effect only in the settings the environment is created with
        "pipeline.object-reuse": "true",
        # the aggregates would otherwise emit a retraction and an update per input record, each an
        # equality delete plus a row in the upsert table; batching folds a second's updates per key
        # into one (buffers are flushed on every checkpoint: exactly-once holds)
        "table.exec.mini-batch.enabled": "true",
        "table.exec.mini-batch.allow-latency": "1 s",
        "table.exec.mini-batch.size": "5000",
        # the INSERTs read one parsed view and one deduplicated view; without this each INSERT
        # optimizes its own copy, and the copies are not merged afterwards (the parse is declared
        # non-deterministic, see ParseRecord.java): the contract rules ran once per INSERT and
        # each event id sat in two dedup states
        "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
    }.items():
        config.set_string(key, value)
    tenv = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build())

    catalog = settings.catalog.name
    tenv.execute_sql(catalog_ddl(catalog, settings.iceberg_catalog_properties()))
    kafka_options = {"properties.bootstrap.servers": settings.kafka.bootstrap_servers,
                     "properties.group.id": args.job_name}
    kafka_options.update({f"properties.{k}": v for k, v in settings.kafka.client_properties.items()})
    ddl, inserts = build_statements(contracts, kafka_options, Sinks(catalog, args.prefix), args.prefix)
    for statement in ddl:
        tenv.execute_sql(statement)
    statement_set = tenv.create_statement_set()
    for statement in inserts:
        statement_set.add_insert_sql(statement)
    statement_set.execute()


if __name__ == "__main__":
    main()
