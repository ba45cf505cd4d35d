"""Spark job start on the running local stack: the Spark Connect server against a driver per job, with
its class archive and JIT and their alternatives.

    .venv/bin/python bench/spark_start.py [--repeats 3] [--tables dim_campaign,dim_weather,dim_store,dim_product]

Times the whole command an Airflow task runs, ``headwater spark gold_daily -- --tables ...
--no-catch-up``, on small tables (four master-data dimensions, a few hundred rows: the time is the
job's start, planning and first writes, not data), into a scratch namespace ``bench_spark_start``
dropped at the end. Runs alternate between four modes, so a drift of the machine hits all alike:

- ``default``: as configured by default, a client of the stack's Spark Connect server;
- ``own_driver``: a driver of its own through spark-submit (``HEADWATER_SPARK__CONNECT=false``), the
  class archive mapped and the full JIT;
- ``quick_jit``: that driver with the client compiler only (``HEADWATER_SPARK__JIT=quick``);
- ``no_archive``: that driver without the archive (``HEADWATER_SPARK__CLASS_DATA_SHARING=false``).

Prints each run, the median and minimum of each mode and each median's ratio to the default's, and a
JSON report.
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


#: mode -> the settings it changes (environment variables)
MODES: dict[str, dict[str, str]] = {
    "default": {"HEADWATER_SPARK__CONNECT": "true"},
    "own_driver": {"HEADWATER_SPARK__CONNECT": "false", "HEADWATER_SPARK__CLASS_DATA_SHARING": "true",
                   "HEADWATER_SPARK__JIT": "full"},
    "quick_jit": {"HEADWATER_SPARK__CONNECT": "false", "HEADWATER_SPARK__CLASS_DATA_SHARING": "true",
                  "HEADWATER_SPARK__JIT": "quick"},
    "no_archive": {"HEADWATER_SPARK__CONNECT": "false", "HEADWATER_SPARK__CLASS_DATA_SHARING": "false",
                   "HEADWATER_SPARK__JIT": "full"},
}


def run_job(tables: str, day: str, mode: str) -> float:
    """Wall time of one gold_daily run through the CLI, in one of the ``MODES``."""
    env = {**os.environ, **MODES[mode]}
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
    parser.add_argument("--tables", default="dim_campaign,dim_weather,dim_store,dim_product",
                        help="the small Gold tables each run builds")
    args = parser.parse_args()
    settings = load_settings()
    trino = Trino(settings)
    if not trino.health().ok:
        print("Trino is not running: start the stack with `make up`", file=sys.stderr)
        return 1
    spark = Spark(settings)
    spark.install()  # records the archive when it is missing, outside the timed runs
    day = datetime.now(UTC).date().isoformat()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        run_job(args.tables, day, "default")  # creates the tables: every timed run overwrites them alike
        for i in range(args.repeats):
            for mode in times:
                seconds = run_job(args.tables, day, mode)
                times[mode].append(round(seconds, 2))
                print(f"run {i + 1} {mode}: {seconds:.1f} s", flush=True)
    finally:
        drop_tables(trino, TARGET)
    medians = {mode: round(statistics.median(t), 2) for mode, t in times.items()}
    report = {"tables": args.tables, "archive": str(spark.class_archive()), "modes": MODES, "runs_s": times,
              "median_s": medians, "min_s": {mode: min(t) for mode, t in times.items()},
              "ratio_to_default": {mode: round(m / medians["default"], 3) for mode, m in medians.items()}}
    print(f"gold_daily --tables {args.tables}, median of {args.repeats}: "
          + ", ".join(f"{mode} {m} s (x{report['ratio_to_default'][mode]})" for mode, m in medians.items()))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
