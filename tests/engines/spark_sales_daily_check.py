"""Run inside the Spark environment: apply spark_jobs.sales_daily to in-memory rows, print JSON."""

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

from pyspark.sql import SparkSession

from spark_jobs.sales_daily import sales_daily


def main() -> None:
    rows = json.load(sys.stdin)
    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    for r in rows:
        r["unit_price"] = Decimal(r["unit_price"])
        r["discount"] = Decimal(r["discount"])
        r["sold_at"] = datetime.fromisoformat(r["sold_at"].replace("Z", "+00:00")).astimezone(UTC)
    schema = ("sale_id string, store_id string, quantity int, unit_price decimal(10,2), "
              "discount decimal(10,2), sold_at timestamp")
    df = spark.createDataFrame(rows, schema=schema)
    out = [{**r.asDict(), "sale_date": str(r["sale_date"]), "revenue": str(r["revenue"])}
           for r in sales_daily(df).orderBy("sale_date", "store_id").collect()]
    json.dump(out, sys.stdout)
    spark.stop()


if __name__ == "__main__":
    main()
