"""Run inside the Spark environment: parse each contract's Spark DDL, print the fields Spark sees."""

import json
import sys

from pyspark.sql import SparkSession

from headwater.contracts import contracts
from headwater.contracts.spark import spark_schema_ddl


def main() -> None:
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    out = {}
    for c in contracts():
        schema = spark.createDataFrame([], spark_schema_ddl(c)).schema
        out[c.name] = [[f.name, f.dataType.simpleString(), f.nullable] for f in schema.fields]
    json.dump(out, sys.stdout)
    spark.stop()


if __name__ == "__main__":
    main()
