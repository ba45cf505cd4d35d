"""Spark job start on the running local stack: with the class data sharing archive against without it.

    .venv/bin/python bench/spark_start.py [--repeats 3] [--tables dim_campaign,dim_weather]

Times the whole command an Airflow task runs, ``headwater spark gold_daily -- --tables ...
--no-catch-up``, on small tables (two master-data dimensions, a few hundred rows: the time is the
job's start, planning and first writes, not data), into a scratch namespace ``bench_spark_start``
dropped at the end. Runs alternate between the archive mapped (the default) and
``HEADWATER_SPARK__CLASS_DATA_SHARING=false``, so a drift of the machine hits both alike. Prints
each run, the median and minimum of each mode and their ratio (with / without), and a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from headwater import PROJECT_ROOT
from headwater.frozen import drop_tables
from headwater.settings import load_settings
from headwater.stack.spark import Spark
from headwater.stack.trino import Trino

TARGET = "bench_spark_start"


def run_job(tables: str, day: str, sharing: bool) -> float:
    """Wall time of one gold_daily run through the CLI, with or without the class archive."""
    env = {**os.environ, "HEADWATER_SPARK__CLASS_DATA_SHARING": "true" if sharing else "false"}
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "headwater", "spark", "gold_daily", "--", "--tables", tables,
                           "--start", day, "--no-catch-up", "--target-namespace", TARGET],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"gold_daily failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each mode")
    parser.add_argument("--tables", default="dim_campaign,dim_weather", help="the small Gold tables each run builds")
    args = parser.parse_args()
    settings = load_settings()
    trino = Trino(settings)
    if not trino.health().ok:
        print("Trino is not running: start the stack with `make up`", file=sys.stderr)
        return 1
    spark = Spark(settings)
    spark.install()  # records the archive when it is missing, outside the timed runs
    day = datetime.now(UTC).date().isoformat()
    times: dict[str, list[float]] = {"with_archive": [], "without_archive": []}
    try:
        run_job(args.tables, day, sharing=True)  # creates the tables: every timed run overwrites them alike
        for i in range(args.repeats):
            for mode in times:
                seconds = run_job(args.tables, day, sharing=mode == "with_archive")
                times[mode].append(round(seconds, 2))
                print(f"run {i + 1} {mode.replace('_', ' ')}: {seconds:.1f} s", flush=True)
    finally:
        drop_tables(trino, TARGET)
    report = {"tables": args.tables, "archive": str(spark.class_archive()), "runs_s": times,
              **{f"{mode}_median_s": round(statistics.median(t), 2) for mode, t in times.items()},
              **{f"{mode}_min_s": min(t) for mode, t in times.items()}}
    report["ratio_with_to_without"] = round(report["with_archive_median_s"] / report["without_archive_median_s"], 3)
    print(f"gold_daily --tables {args.tables}: median {report['with_archive_median_s']} s with the class archive, "
          f"{report['without_archive_median_s']} s without; ratio {report['ratio_with_to_without']}")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
