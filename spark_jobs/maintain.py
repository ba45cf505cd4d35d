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


def tables(spark: SparkSession, catalog: str, namespaces: list[str]) -> list[str]:
    """Every table of the namespaces that exist (Gold appears with its first build)."""
    existing = {r[0] for r in spark.sql(f"show namespaces in {catalog}").collect()}
    out = []
    for ns in namespaces:
        if ns in existing:
            out += [f"{ns}.{r.tableName}" for r in spark.sql(f"show tables in {catalog}.{ns}").collect()]
    return sorted(out)


def maintain_table(spark: SparkSession, catalog: str, table: str, older_than: datetime, retain_last: int,
                   orphans_older_than: datetime) -> dict:
    """Compact data files and manifests, expire snapshots, remove orphan files of one table; what each step did."""
    rewrite = spark.sql(
        f"call {catalog}.system.rewrite_data_files(table => '{table}', "
        "options => map('min-input-files', '5', 'partial-progress.enabled', 'true'))").collect()[0]
    expire = spark.sql(
        f"call {catalog}.system.expire_snapshots(table => '{table}', "
        f"older_than => timestamp '{older_than.strftime('%Y-%m-%d %H:%M:%S')}', "
        f"retain_last => {retain_last})").collect()[0]
    manifests = spark.sql(f"call {catalog}.system.rewrite_manifests(table => '{table}')").collect()[0]
    # after the expiry: files only expired snapshots referenced are deleted by it, not counted here
    orphans = spark.sql(
        f"call {catalog}.system.remove_orphan_files(table => '{table}', "
        f"older_than => timestamp '{orphans_older_than.strftime('%Y-%m-%d %H:%M:%S')}')").collect()
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
