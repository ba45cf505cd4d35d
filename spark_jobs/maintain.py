"""Iceberg maintenance of the streaming layer: compact small files, expire old snapshots.

Streaming commits every checkpoint make many small files and snapshots. This job rewrites
each Bronze and Silver table's small files into larger ones and expires snapshots older
than the retention, keeping the newest ones. It runs beside the ingest job: both commit
optimistically and Iceberg retries on conflict; the tables are append-only, so a
compaction never conflicts with a streaming append. The newest snapshots are retained
because the Flink committer finds its last committed checkpoint in snapshot history.

    spark-submit spark_jobs/maintain.py [--older-than-hours 24] [--retain-last 50] [--tables ns.table,...]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

NAMESPACES = ("bronze", "silver")


def tables(spark: SparkSession, catalog: str) -> list[str]:
    out = []
    for ns in NAMESPACES:
        out += [f"{ns}.{r.tableName}" for r in spark.sql(f"show tables in {catalog}.{ns}").collect()]
    return sorted(out)


def maintain_table(spark: SparkSession, catalog: str, table: str, older_than: datetime, retain_last: int) -> dict:
    """Compact then expire one table; return what each step did."""
    rewrite = spark.sql(
        f"call {catalog}.system.rewrite_data_files(table => '{table}', "
        "options => map('min-input-files', '5', 'partial-progress.enabled', 'true'))").collect()[0]
    expire = spark.sql(
        f"call {catalog}.system.expire_snapshots(table => '{table}', "
        f"older_than => timestamp '{older_than.strftime('%Y-%m-%d %H:%M:%S')}', "
        f"retain_last => {retain_last})").collect()[0]
    return {"table": table, "rewritten_files": rewrite["rewritten_data_files_count"],
            "added_files": rewrite["added_data_files_count"],
            "expired_snapshots_files": expire["deleted_manifest_lists_count"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--older-than-hours", type=float, default=24.0)
    parser.add_argument("--retain-last", type=int, default=50)
    parser.add_argument("--tables", default="")
    args = parser.parse_args()
    spark = SparkSession.builder.appName("headwater-maintain").getOrCreate()
    catalog = spark.conf.get("spark.sql.defaultCatalog")
    older_than = datetime.now(UTC) - timedelta(hours=args.older_than_hours)
    for table in [t for t in args.tables.split(",") if t] or tables(spark, catalog):
        result = maintain_table(spark, catalog, table, older_than, args.retain_last)
        print(f"{result['table']}: {result['rewritten_files']} files compacted into {result['added_files']}, "
              f"{result['expired_snapshots_files']} snapshots expired", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
