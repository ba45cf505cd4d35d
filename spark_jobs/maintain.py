"""Iceberg maintenance of every layer: compact small files and manifests, expire old snapshots, remove orphans.

Streaming commits every checkpoint make many small files, manifests and snapshots. Per table of
Bronze, Silver and Gold this job rewrites small data files into larger ones, rewrites the
manifests, expires snapshots older than the retention (keeping the newest ones) and deletes
orphan files (in the table's location, referenced by no snapshot) older than their own age
limit. It runs beside the ingest job: both commit optimistically and Iceberg retries on
conflict; a compaction never conflicts with a streaming append. The newest snapshots are
retained because the Flink committer finds its last committed checkpoint in snapshot history.
A writer's files are orphans until its commit (Flink: the next checkpoint; a Gold build: its
end), so orphan removal only takes files much older than any write in flight.

    spark-submit spark_jobs/maintain.py [--older-than-hours 24] [--retain-last 50]
        [--orphans-older-than-hours 72] [--namespaces bronze,silver,gold] [--tables ns.table,...]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

NAMESPACES = ("bronze", "silver", "gold")
#: the youngest orphan age accepted: a younger "orphan" may be a file of a commit in flight
MIN_ORPHAN_AGE_HOURS = 6.0
#: failures of a step that mean a concurrent commit won the race: planned again, at most this often
CONFLICTS = ("ValidationException", "CommitFailedException")
CONFLICT_ATTEMPTS = 5


def tables(spark: SparkSession, catalog: str, namespaces: list[str]) -> list[str]:
    """Every table of the namespaces that exist (Gold appears with its first build)."""
    existing = {r[0] for r in spark.sql(f"show namespaces in {catalog}").collect()}
    out = []
    for ns in namespaces:
        if ns in existing:
            out += [f"{ns}.{r.tableName}" for r in spark.sql(f"show tables in {catalog}.{ns}").collect()]
    return sorted(out)


def call(spark: SparkSession, catalog: str, table: str, procedure: str, args: str) -> list:
    """Run ``<catalog>.system.<procedure>(table => ..., args)`` on the newest metadata; its rows.

    A step planned on an older snapshot than the one it commits over fails when a commit in
    between (the streaming job's, or the previous step's) replaced what it replaces: Iceberg
    retries plain commit conflicts itself, but a manifest rewrite that no longer finds its
    manifests raises a ValidationException. Such a step is planned again from the newest
    metadata, a few times. The table is refreshed first because the session's catalog caches
    tables (a cached plan base would lose that race every time).
    """
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        spark.sql(f"refresh table {catalog}.{table}")
        try:
            return spark.sql(f"call {catalog}.system.{procedure}(table => '{table}'{args})").collect()
        except Exception as e:  # py4j wraps the JVM exception: match on its class name
            conflict = next((c for c in CONFLICTS if c in str(e)), None)
            if conflict is None or attempt == CONFLICT_ATTEMPTS:
                raise
            print(f"{table}: {procedure} lost a race with a concurrent commit ({conflict}, attempt {attempt} of "
                  f"{CONFLICT_ATTEMPTS}); planning again on the newest snapshot", flush=True)
    raise AssertionError("unreachable")


def maintain_table(spark: SparkSession, catalog: str, table: str, older_than: datetime, retain_last: int,
                   orphans_older_than: datetime) -> dict:
    """Compact data files and manifests, expire snapshots, remove orphan files of one table; what each step did."""
    rewrite = call(spark, catalog, table, "rewrite_data_files",
                   ", options => map('min-input-files', '5', 'partial-progress.enabled', 'true')")[0]
    expire = call(spark, catalog, table, "expire_snapshots",
                  f", older_than => timestamp '{older_than.strftime('%Y-%m-%d %H:%M:%S')}', "
                  f"retain_last => {retain_last}")[0]
    manifests = call(spark, catalog, table, "rewrite_manifests", "")[0]
    # after the expiry: files only expired snapshots referenced are deleted by it, not counted here
    orphans = call(spark, catalog, table, "remove_orphan_files",
                   f", older_than => timestamp '{orphans_older_than.strftime('%Y-%m-%d %H:%M:%S')}'")
    return {"table": table, "rewritten_files": rewrite["rewritten_data_files_count"],
            "added_files": rewrite["added_data_files_count"],
            "expired_snapshots_files": expire["deleted_manifest_lists_count"],
            "rewritten_manifests": manifests["rewritten_manifests_count"],
            "added_manifests": manifests["added_manifests_count"],
            "orphans": [r["orphan_file_location"] for r in orphans]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--older-than-hours", type=float, default=24.0)
    parser.add_argument("--retain-last", type=int, default=50)
    parser.add_argument("--orphans-older-than-hours", type=float, default=72.0)
    parser.add_argument("--namespaces", default=",".join(NAMESPACES))
    parser.add_argument("--tables", default="")
    args = parser.parse_args()
    if args.orphans_older_than_hours < MIN_ORPHAN_AGE_HOURS:
        parser.error(f"--orphans-older-than-hours {args.orphans_older_than_hours:g} is too young: files of a "
                     f"commit in flight would be deleted (at least {MIN_ORPHAN_AGE_HOURS:g})")
    spark = SparkSession.builder.appName("headwater-maintain").getOrCreate()
    catalog = spark.conf.get("spark.sql.defaultCatalog")
    now = datetime.now(UTC)
    older_than = now - timedelta(hours=args.older_than_hours)
    orphans_older_than = now - timedelta(hours=args.orphans_older_than_hours)
    namespaces = [n for n in args.namespaces.split(",") if n]
    for table in [t for t in args.tables.split(",") if t] or tables(spark, catalog, namespaces):
        result = maintain_table(spark, catalog, table, older_than, args.retain_last, orphans_older_than)
        print(f"{result['table']}: {result['rewritten_files']} files compacted into {result['added_files']}, "
              f"{result['expired_snapshots_files']} snapshots expired, {result['rewritten_manifests']} manifests "
              f"rewritten into {result['added_manifests']}, {len(result['orphans'])} orphan files removed",
              flush=True)
        for path in result["orphans"]:
            print(f"  removed orphan {path}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
