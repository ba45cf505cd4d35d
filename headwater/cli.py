"""The `headwater` command: run the local stack, send events, submit jobs. `make` wraps it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable

from headwater.settings import Settings, SettingsError, load_settings
from headwater.stack.errors import StackError


def cmd_up(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack import runner

    runner.up(s, only=a.only.split(",") if a.only else None)
    return 0


def cmd_down(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack import runner

    runner.down(s)
    return 0


def cmd_status(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack import runner

    return runner.status(s, as_json=a.json)


def cmd_logs(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack import services

    by_name = {svc.name: svc for svc in services(s)}
    if a.service not in by_name:
        raise StackError(f"no service {a.service!r}: choose one of {', '.join(by_name)}")
    files = [p.log_file for p in by_name[a.service].processes() if p.log_file.exists()]
    if a.service == "flink":
        files += sorted((s.logs_dir / "flink").glob("*.log"))
    if not files:
        print(f"no logs for {a.service} yet under {s.logs_dir}")
        return 0
    argv = ["tail", f"-n{a.lines}", *(["-F"] if a.follow else []), *map(str, files)]
    os.execvp("tail", argv)


def cmd_submit(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack.workloads import StreamingJobs

    jobs = StreamingJobs(s)
    jobs.install()
    jobs.start()
    print(jobs.health().detail)
    return 0


def cmd_stop_jobs(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack.flink import Flink

    flink = Flink(s)
    stopped = 0
    for job in flink.jobs():
        if job["state"] == "RUNNING":
            print(f"{job['name']}: savepoint {flink.stop_job(job['name'])}")
            stopped += 1
    if not stopped:
        print("no running Flink jobs")
    return 0


def produce_options(s: Settings, a: argparse.Namespace):  # -> producers.run.ProduceOptions
    """Producer options: the settings' defaults, overridden by command-line flags."""
    from datetime import datetime

    from headwater.contracts import stream_contracts
    from producers.faults import MALFORMED, FaultPlan
    from producers.run import ProduceOptions

    p = s.producer

    def pick(flag: object, default: object) -> object:
        return default if flag is None else flag

    streams = pick(a.streams, p.streams) or ",".join(c.name for c in stream_contracts())
    classes = pick(a.malformed_classes, p.malformed_classes) or ",".join(MALFORMED)
    try:
        plan = FaultPlan(late=pick(a.late, p.late), late_beyond=pick(a.late_beyond, p.late_beyond),
                         disorder=pick(a.disorder, p.disorder), duplicates=pick(a.duplicates, p.duplicates),
                         malformed=pick(a.malformed, p.malformed),
                         malformed_classes=tuple(c for c in classes.split(",") if c))
    except ValueError as exc:
        raise StackError(str(exc)) from None
    start = datetime.fromisoformat(a.start.replace("Z", "+00:00")) if a.start else None
    if start is not None and start.tzinfo is None:
        raise StackError("--start needs a time zone, e.g. 2026-11-01T00:00:00Z")
    return ProduceOptions(streams=tuple(x for x in streams.split(",") if x), count=a.count,
                          rate=pick(a.rate, p.rate), seed=pick(a.seed, p.seed), duration=a.duration,
                          start=start, speedup=a.speedup, faults=plan)


def cmd_produce(s: Settings, a: argparse.Namespace) -> int:
    if a.from_csv:
        from producers.replay import replay_csv

        result = replay_csv(s, a.from_csv, a.streams or "", speedup=a.speedup or 0.0, progress=not a.quiet)
    else:
        from producers.run import produce

        result = produce(s, produce_options(s, a), deadline=a.deadline, progress=not a.quiet)
    print(json.dumps({"run_id": result.run_id, "acknowledged": result.acked,
                      "kinds": {f"{st}:{k}": n for (st, k), n in sorted(result.kinds.items())},
                      "ledger": str(result.ledger), "events_per_second": round(result.rate, 1)}))
    return 0


def cmd_shop_writer(s: Settings, a: argparse.Namespace) -> int:
    from producers.shop import ShopWriter

    p = s.producer
    counts = ShopWriter(s, rate=a.rate if a.rate is not None else p.shop_rate, step_s=p.shop_step_s,
                        seed=p.seed).run(duration=a.duration)
    print(json.dumps(counts))
    return 0


def cmd_masterdata(s: Settings, a: argparse.Namespace) -> int:
    import time
    from datetime import UTC, date, datetime, timedelta

    from producers.domain import build_domain
    from producers.masterdata import write_drop

    domain = build_domain(s.producer.seed)
    today = datetime.now(UTC).date()
    first = date.fromisoformat(a.since) if a.since else today - timedelta(days=s.producer.masterdata_backfill_days)
    day = first
    while True:
        while day <= today:
            for path in write_drop(domain, s.landing_dir, day):
                print(f"dropped {path}", flush=True)
            day += timedelta(days=1)
        if not a.follow:
            return 0
        # one drop per day: wake at the next UTC midnight
        tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        time.sleep(max(1.0, min(600.0, (tomorrow - datetime.now(UTC)).total_seconds())))
        today = datetime.now(UTC).date()


def cmd_maintain(s: Settings, a: argparse.Namespace) -> int:
    from headwater import PROJECT_ROOT
    from headwater.stack.spark import Spark

    spark = Spark(s)
    spark.install()
    args = ["--older-than-hours", str(a.older_than_hours), "--retain-last", str(a.retain_last),
            "--orphans-older-than-hours", str(a.orphans_older_than_hours), "--namespaces", a.namespaces]
    if a.tables:
        args += ["--tables", a.tables]
    proc = spark.submit(PROJECT_ROOT / "spark_jobs" / "maintain.py", args, capture=True)
    print(proc.stdout.strip())
    return 0


def cmd_lag(s: Settings, a: argparse.Namespace) -> int:
    from headwater.lag import render, stream_lags

    lags = stream_lags(s)
    print(json.dumps([x.as_dict() for x in lags], indent=2) if a.json else render(lags))
    return 0


def cmd_reconcile(s: Settings, a: argparse.Namespace) -> int:
    from pathlib import Path

    from headwater.reconcile import reconcile, render
    from headwater.stack.trino import Trino

    if a.ledger:
        ledger = Path(a.ledger)
    else:
        ledgers = sorted((s.run_dir / "ledger").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if not ledgers:
            raise StackError(f"no ledger under {s.run_dir / 'ledger'}: produce something first (`make produce`)")
        ledger = ledgers[-1]
    if not ledger.exists():
        raise StackError(f"no ledger at {ledger}")
    accounts = reconcile(s, ledger, Trino(s).query)
    print(f"ledger {ledger}\n{render(accounts)}")
    return 0 if all(acc.ok for acc in accounts) else 1


def cmd_trino(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack.trino import Trino

    trino = Trino(s)
    argv = trino.cli_argv(a.execute)
    os.execvpe(argv[0], argv, trino.cli_env())


def cmd_airflow(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack.airflow import Airflow

    airflow = Airflow(s)
    airflow.install()
    argv = [str(airflow.venv / "bin" / "airflow"), *a.args]
    os.execvpe(argv[0], argv, airflow.env())


def cmd_spark(s: Settings, a: argparse.Namespace) -> int:
    from headwater import PROJECT_ROOT
    from headwater.stack.spark import Spark

    script = PROJECT_ROOT / "spark_jobs" / f"{a.job}.py"
    if not script.exists():
        jobs = sorted(p.stem for p in script.parent.glob("*.py") if not p.stem.startswith("_"))
        raise StackError(f"no Spark job {a.job!r}: choose one of {', '.join(jobs)}")
    spark = Spark(s)
    spark.install()
    spark.submit(script, a.args)
    print(f"Spark job {a.job} finished; log {s.logs_dir / ('spark-' + a.job + '.log')}")
    return 0


def cmd_clean(s: Settings, a: argparse.Namespace) -> int:
    from headwater.stack import services

    running = [svc.title for svc in services(s) if svc.partly_running()]
    if running:
        raise StackError(f"stop the stack first (`make down`): still running: {', '.join(running)}")
    if not a.data:
        logs = s.logs_dir
        if logs.exists():
            shutil.rmtree(logs)
        print(f"removed logs under {logs}. Data (Kafka, PostgreSQL, warehouse, checkpoints) is kept: "
              f"`make clean DATA=1` deletes it all.")
        return 0
    if s.run_dir.exists():
        shutil.rmtree(s.run_dir)
    print(f"deleted the run directory {s.run_dir}: every topic, table, checkpoint and password is gone")
    return 0


def cmd_config(s: Settings, a: argparse.Namespace) -> int:
    print(json.dumps(s.redacted(), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="headwater", description="A streaming-first lakehouse on one machine.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("up", cmd_up, "install what is missing and start every service, the ingest job and a producer")
    sp.add_argument("--only", help="comma-separated services to start (e.g. postgres,kafka)")
    add("down", cmd_down, "stop everything (Flink jobs with a savepoint); keeps data")
    sp = add("status", cmd_status, "health of every service, endpoints and running jobs")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp = add("logs", cmd_logs, "show a service's log")
    sp.add_argument("service")
    sp.add_argument("-n", "--lines", type=int, default=100)
    sp.add_argument("-f", "--follow", action="store_true")
    add("submit", cmd_submit, "submit the streaming jobs (resuming from their latest checkpoint or savepoint)")
    add("stop-jobs", cmd_stop_jobs, "stop running Flink jobs with a savepoint")
    sp = add("produce", cmd_produce, "send generated events to Kafka and write a ledger of what was acknowledged")
    sp.add_argument("--streams", "--stream", default=None, help="comma-separated streams (default: all)")
    sp.add_argument("--count", type=int, default=0, help="messages to send (0: until --duration or Ctrl-C)")
    sp.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: no limit)")
    sp.add_argument("--rate", type=float, default=None, help="POS sale lines per second, the other streams in "
                    "proportion (0: as fast as possible)")
    sp.add_argument("--seed", type=int, default=None)
    sp.add_argument("--start", help="simulate time from this instant (ISO-8601) instead of the wall clock")
    sp.add_argument("--speedup", type=float, default=0.0, help="with --start or --from-csv: simulated seconds per "
                    "second (0: as fast as possible)")
    sp.add_argument("--late", type=float, default=None, help="share of events sent late")
    sp.add_argument("--late-beyond", type=float, default=None, help="share of the late ones beyond the "
                    "contract's allowed lateness")
    sp.add_argument("--disorder", type=float, default=None, help="share sent out of order (within the watermark)")
    sp.add_argument("--duplicates", type=float, default=None, help="share of events sent again (same id)")
    sp.add_argument("--malformed", type=float, default=None, help="share of malformed records")
    sp.add_argument("--malformed-classes", default=None, help="comma-separated classes (default: all)")
    sp.add_argument("--from-csv", default=None, help="replay a CSV file into the stream given by --stream")
    sp.add_argument("--deadline", type=float, default=60.0, help="seconds to keep retrying an unreachable broker")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp = add("shop-writer", cmd_shop_writer, "insert, update and delete online orders in the shop database")
    sp.add_argument("--rate", type=float, default=None, help="orders placed per second")
    sp.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: until stopped)")
    sp = add("masterdata", cmd_masterdata, "drop the daily master-data files into the landing folder")
    sp.add_argument("--since", help="first day to drop (default: the configured backfill before today)")
    sp.add_argument("--follow", action="store_true", help="keep running and drop each new day's files")
    sp = add("maintain", cmd_maintain, "compact files and manifests, expire old snapshots, remove orphan files "
             "of the Bronze, Silver and Gold tables")
    sp.add_argument("--older-than-hours", type=float, default=24.0, help="expire snapshots older than this")
    sp.add_argument("--retain-last", type=int, default=50, help="always keep this many newest snapshots")
    sp.add_argument("--orphans-older-than-hours", type=float, default=72.0,
                    help="remove files no snapshot references once older than this (at least 6)")
    sp.add_argument("--namespaces", default="bronze,silver,gold", help="comma-separated namespaces to maintain")
    sp.add_argument("--tables", default="", help="comma-separated namespace.table (default: every table of the "
                    "namespaces)")
    sp = add("lag", cmd_lag, "per stream: consumer lag, event-time delay, Silver freshness against its target")
    sp.add_argument("--json", action="store_true")
    sp = add("reconcile", cmd_reconcile, "account for every message of a producer run's ledger in the lakehouse")
    sp.add_argument("ledger", nargs="?", help="ledger file (default: the newest under the run dir)")
    sp = add("trino", cmd_trino, "open the Trino CLI on the iceberg catalog")
    sp.add_argument("--execute", "-e", help="run one statement and exit")
    sp = add("airflow", cmd_airflow, "run Airflow's CLI against the stack's Airflow (backfill, dags test, ...)")
    sp.add_argument("args", nargs=argparse.REMAINDER)
    sp = add("spark", cmd_spark, "run a PySpark job from spark_jobs/ with spark-submit")
    sp.add_argument("job")
    sp.add_argument("args", nargs=argparse.REMAINDER)
    sp = add("clean", cmd_clean, "delete logs; with --data, delete all data of the local stack")
    sp.add_argument("--data", action="store_true", help="also delete topics, tables, checkpoints, passwords")
    add("config", cmd_config, "print the resolved settings (credentials masked)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(load_settings(), args) or 0
    except (StackError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from producers.run import ProduceError

        if isinstance(exc, ProduceError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
