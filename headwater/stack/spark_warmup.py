"""A small Spark workload that loads the classes a Gold job loads, run once to record them.

``Spark.install()`` runs this script through spark-submit with ``-XX:ArchiveClassesAtExit``: the
JVM writes the classes it loaded to a class data sharing archive, which later jobs map instead of
loading and verifying those classes again (about half of a small job's start on two cores).

It needs no running service: Iceberg tables go to a Hadoop catalog in a temporary folder given as
the only argument. Nothing here is a Gold job; the archive only decides what starts faster.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F


def warm_up(spark: SparkSession, folder: Path) -> None:
    """Create, write, overwrite, merge and read a partitioned Iceberg table; read CSV and JSON files."""
    t = "warmup.db.t"
    spark.sql("create namespace if not exists warmup.db")
    rows = [(i, f"k{i % 7}", i * 1.5, f"2026-01-0{1 + i % 3} 10:00:00") for i in range(200)]
    df = (spark.createDataFrame(rows, "id bigint, key string, amount double, at string")
          .withColumn("at", F.col("at").cast("timestamp"))
          .withColumn("day", F.to_date("at"))
          .withColumn("price", F.col("amount").cast("decimal(10,2)")))
    df.writeTo(t).using("iceberg").tableProperty("format-version", "2").partitionedBy(F.col("day")).create()
    df.writeTo(t).overwrite(F.expr("day = date'2026-01-01'"))
    df.createOrReplaceTempView("src")
    spark.sql(f"merge into {t} d using src s on d.id = s.id when matched then update set * "
              "when not matched then insert *")
    first = spark.sql("select snapshot_id from warmup.db.t.snapshots order by committed_at limit 1").collect()[0][0]
    spark.sql(f"select count(*) from {t} version as of {first}").collect()
    spark.sql("select h.snapshot_id from warmup.db.t.history h join warmup.db.t.snapshots s "
              "on h.snapshot_id = s.snapshot_id where h.is_current_ancestor").collect()
    table = spark.table(t).persist()
    table.createOrReplaceTempView("cand")
    w = Window.partitionBy("key").orderBy(F.col("at").desc(), "id")
    (table.withColumn("n", F.row_number().over(w)).where("n = 1")
     .join(table.groupBy("key").agg(F.sum("price").alias("total"), F.count_distinct("id").alias("ids")), "key")
     .collect())
    spark.sql("select (select count(*) - count(distinct id) from cand) as a, "
              "(select count_if(key is null) from cand) as b").collect()
    table.unpersist()
    df.select("id", "key").write.mode("overwrite").option("header", True).csv(str(folder / "csv"))
    df.select("id", "key").write.mode("overwrite").json(str(folder / "json"))
    spark.read.schema("id bigint, key string").option("header", True).csv(str(folder / "csv")).select(
        "id", F.col("_metadata.file_name")).collect()
    spark.read.schema("id bigint, key string").json(str(folder / "json")).count()


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    spark = (SparkSession.builder.appName("headwater-spark-warmup")
             .config("spark.sql.catalog.warmup", "org.apache.iceberg.spark.SparkCatalog")
             .config("spark.sql.catalog.warmup.type", "hadoop")
             .config("spark.sql.catalog.warmup.warehouse", str(folder / "warehouse"))
             .getOrCreate())
    try:
        warm_up(spark, folder)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
