"""Gold benchmark on the running local stack: full build, +1 % incremental refresh, BI query latency.

    .venv/bin/python bench/gold_build.py [--rows 10000000] [--days 0] [--increment 0.01] [--repeats 20]
        [--keep] [--skip-generate] [--driver-memory 4g] [--jit full]

1. Silver. ``bench_gold_src.pos_sales`` (the Silver table's schema, from the contract) is filled by a
   Spark job with ``--rows`` seeded sale lines spread over ``--days`` UTC days up to now, using the
   store, product and customer ids of the master-data landing files so every dimension join
   resolves (``bench/gold_silver.py``). The other Silver tables Gold reads are copied from the
   live ``silver`` namespace, over the same days (one row per event id, without the made-up test
   stores). Timed, but not part of the Gold figures.
2. Full build: ``headwater spark gold_daily -- --full`` into an empty ``bench_gold``: wall time of
   the command (Spark start included), each table's own time, peak memory.
3. Incremental refresh: ``--increment`` (1 %) more sale lines are appended on the latest day, then
   the default (catch-up) run for that day is timed the same way. Its ratio to the full build of
   the same run is the figure, against the target (<= 0.10). Then as many lines again and one more
   refresh for comparison: with ``spark.connect`` (the default: jobs are clients of the stack's Spark
   Connect server) in a driver of its own through spark-submit, as every job ran before the server
   (with ``--jit``); without it, with the other JIT (``spark.jit``).
4. BI latency: each query of ``sql/gold/bi/`` runs through Trino on ``bench_gold`` (in place of
   ``gold``) once to warm up and then ``--repeats`` times: p50 and p95 against the target (1 s).

Memory is the PSS of the job's whole process group (the CLI, the spark-submit driver JVM and its
Python workers; with Spark Connect the client and the server's process group), sampled every second.
The server's JIT and driver memory are those it was started with (``make up``): ``--jit`` and
``--driver-memory`` apply to the jobs that run a driver of their own. Nothing outside
``bench_gold_src`` and ``bench_gold`` is written; both are dropped at the end unless ``--keep``
(``--skip-generate`` reuses a kept ``bench_gold_src.pos_sales`` generated earlier the same UTC day:
its newest sale must be fresh enough for the quality gates, 6 h).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater import PROJECT_ROOT
from headwater.frozen import GOLD_STREAMS, copy_events, copy_orders, drop_tables, event_times
from headwater.settings import JIT_MODES, Settings, load_settings
from headwater.stack.trino import Trino

SRC = "bench_gold_src"
GOLD = "bench_gold"
BI_DIR = PROJECT_ROOT / "sql" / "gold" / "bi"
GENERATOR = PROJECT_ROOT / "bench" / "gold_silver.py"
#: master data the sale lines reference: sales may start only once all of them have landed
KEY_DATASETS = ("stores", "products", "customers")
#: most days the default spreads the rows over (when the landing files cover more)
MAX_DEFAULT_DAYS = 30
#: the issue's targets
INCREMENTAL_TARGET = 0.10
BI_P95_TARGET_S = 1.0
#: gold_daily's line per built table: "<ns>.<table>: <rows> rows written (<seconds>s)"
TABLE_LINE = re.compile(r"^\S+?\.(\w+): (\d+) rows written \(([\d.]+)s\)")
#: its line per table an incremental run keeps (inputs unchanged since it was built)
KEPT_LINE = re.compile(r"^\S+?\.(\w+): kept as built by the run of ")
#: its line per table an incremental run merges new rows into instead of rebuilding days
MERGED_LINE = re.compile(r"^\S+?\.(\w+): merging the new rows of ")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def first_landing_day(landing: Path, datasets: tuple[str, ...] = KEY_DATASETS) -> date:
    """The first day every one of ``datasets`` has a landed file (``<dataset>_<YYYY-MM-DD>.<ext>``)."""
    firsts = []
    for dataset in datasets:
        days = [date.fromisoformat(m.group(1)) for p in (landing / dataset).glob(f"{dataset}_*")
                if (m := re.fullmatch(rf"{dataset}_(\d{{4}}-\d{{2}}-\d{{2}})\.\w+", p.name))]
        if not days:
            raise SystemExit(f"no {dataset} files in {landing / dataset}: the master-data writer runs with `make up`")
        firsts.append(min(days))
    return max(firsts)


def sales_days(requested: int, first_available: date, today: date) -> date:
    """The first UTC day of the sales: ``requested`` days ending today (0: all the landing files cover)."""
    available = (today - first_available).days + 1
    if available < 1:
        raise SystemExit(f"the master data starts {first_available}, after today ({today})")
    if requested == 0:
        return today - timedelta(days=min(available, MAX_DEFAULT_DAYS) - 1)
    if requested > available:
        # a sale before a key's first snapshot has no dimension version: the quality gate would stop the build
        raise SystemExit(f"--days {requested}: the master data covers {available} days ({first_available}..{today})")
    return today - timedelta(days=requested - 1)


# -- Silver ------------------------------------------------------------------------------------
def create_sales_table(settings: Settings, namespace: str) -> str:
    """``<namespace>.pos_sales`` with the Silver table's schema, partitioning and properties (from the contract)."""
    from headwater.contracts import load_contract
    from headwater.contracts.iceberg import TABLE_PROPERTIES, table_definitions
    from headwater.stack.iceberg import catalog

    schema, spec = table_definitions([load_contract("pos_sales")])["silver.pos_sales"]
    name = f"{namespace}.pos_sales"
    catalog(settings).create_table(name, schema=schema, partition_spec=spec, properties=TABLE_PROPERTIES)
    return name


def generate(settings: Settings, table: str, rows: int, offset: int, since: datetime, until: datetime,
             keys_date: date, seed: int) -> float:
    """Append ``rows`` generated sale lines (ids from ``offset``) timed in [since, until); return the seconds."""
    from headwater.stack.spark import Spark

    spark = Spark(settings)
    spark.install()
    began = time.monotonic()
    spark.submit(GENERATOR, ["--table", table, "--rows", str(rows), "--offset", str(offset),
                             "--from", str(since.timestamp()), "--to", str(until.timestamp()),
                             "--keys-date", keys_date.isoformat(), "--seed", str(seed),
                             "--partitions", str(settings.kafka.topic_partitions)], capture=True)
    return time.monotonic() - began


def copy_streams(trino: Trino, namespace: str, during: str) -> dict[str, int]:
    """Copy the live Silver rows Gold reads besides the till lines (``during``: a ``between`` clause); row counts."""
    for table, event_time in event_times().items():
        copy_events(trino, table, namespace, f"{event_time} {during}")
    copy_orders(trino, namespace, during)
    return {table: int(trino.query(f"select count(*) from iceberg.{namespace}.{table}")[0][0])
            for table in (*GOLD_STREAMS, "online_orders", "online_order_items")}


# -- Gold builds -------------------------------------------------------------------------------
@dataclass
class Build:
    """One gold_daily run: wall time, peak PSS of its process group, each table's own time."""

    seconds: float
    peak_mib: float
    tables: dict[str, float] = field(default_factory=dict)
    #: tables the run did not rebuild: their inputs were those of their last build
    kept: list[str] = field(default_factory=list)
    #: tables the run merged new rows into rather than rebuilding their days
    merged: list[str] = field(default_factory=list)
    window: str = ""
    #: seconds from the session to the first table: the catch-up state, snapshots and changed days
    planned: float | None = None


class _Watch(threading.Thread):
    """Samples the PSS of a process group every second, with the ``also`` groups (a Spark Connect server),
    keeping the peak of their sum, and ends the group past a deadline."""

    def __init__(self, pid: int, timeout: float, also: Sequence[int] = ()) -> None:
        super().__init__(daemon=True)
        self.pid, self.also, self.deadline = pid, tuple(also), time.monotonic() + timeout
        self.peak_mib, self.timed_out = 0.0, False
        self.stopped = threading.Event()

    def run(self) -> None:
        from headwater.stack.proc import group_pss_kib

        while not self.stopped.wait(1.0):
            pss = sum(group_pss_kib(pid) for pid in (self.pid, *self.also))
            self.peak_mib = max(self.peak_mib, pss / 1024)
            if time.monotonic() > self.deadline:
                self.timed_out = True
                _end_group(self.pid)
                return


def _end_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:  # already gone
        pass


def connect_server_pids(settings: Settings) -> list[int]:
    """The local Spark Connect server's pid when jobs run on it (its memory is the jobs')."""
    from headwater.stack.spark import Spark

    return [pid for proc in Spark(settings).processes() if (pid := proc.pid())]


def gold_daily(*args: str, timeout: float, env: dict[str, str] | None = None, also: Sequence[int] = ()) -> Build:
    """Run ``headwater spark gold_daily -- ARGS`` as Airflow does, timed; fail with the output's tail.

    ``env``: settings changed for this run only (``HEADWATER_*`` variables); ``also``: the pids of
    process groups whose memory counts as the job's (the Spark Connect server it runs on).
    """
    argv = [sys.executable, "-m", "headwater", "spark", "gold_daily", "--", *args]
    # a session of its own: its process group is the job's whole tree (driver JVM, Python workers)
    child = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, env={**os.environ, **(env or {})})
    watch = _Watch(child.pid, timeout, also)
    began = time.monotonic()
    watch.start()
    lines: list[str] = []
    try:
        assert child.stdout is not None
        lines = [line.rstrip("\n") for line in child.stdout]
        code = child.wait()
    finally:
        seconds = time.monotonic() - began
        watch.stopped.set()
        if child.poll() is None:  # interrupted: the job is ours, stop its whole tree
            _end_group(child.pid)
            child.wait(60)
    if watch.timed_out:
        raise SystemExit(f"gold_daily {' '.join(args)} ran over {timeout:.0f}s and was stopped")
    if code != 0:
        raise SystemExit(f"gold_daily {' '.join(args)} failed (exit {code}):\n" + "\n".join(lines[-40:]))
    return read_output(Build(seconds, watch.peak_mib), lines)


def read_output(build: Build, lines: list[str]) -> Build:
    """Fill ``build`` from gold_daily's output: each built table's time, the tables kept, the window."""
    for line in lines:
        if m := TABLE_LINE.match(line):
            build.tables[m.group(1)] = float(m.group(3))
        elif m := KEPT_LINE.match(line):
            build.kept.append(m.group(1))
        elif m := MERGED_LINE.match(line):
            build.merged.append(m.group(1))
        elif line.startswith("gold_daily run "):
            window, _, planned = line.split(", days ", 1)[-1].partition("; planned in ")
            build.window = window
            build.planned = float(planned.rstrip("s")) if planned else None
    return build


# -- BI ------------------------------------------------------------------------------------------
def bi_latency(trino: Trino, namespace: str, repeats: int) -> dict[str, dict[str, float]]:
    """Per BI query: the first (warm-up) run and p50/p95/max of ``repeats`` more, in seconds, and its rows."""
    out = {}
    for path in sorted(BI_DIR.glob("*.sql")):
        sql = path.read_text().strip().rstrip(";").replace("iceberg.gold.", f"iceberg.{namespace}.")
        times = []
        for _ in range(repeats + 1):
            began = time.perf_counter()
            rows = trino.query(sql)
            times.append(time.perf_counter() - began)
        runs = times[1:]
        out[path.stem] = {"rows": len(rows), "first_s": round(times[0], 3), "p50_s": round(percentile(runs, 50), 3),
                          "p95_s": round(percentile(runs, 95), 3), "max_s": round(max(runs), 3)}
    return out


def fact_store_lines(trino: Trino) -> int:
    return int(trino.query(f"select count(*) from iceberg.{GOLD}.fact_sales where channel = 'store'")[0][0])


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def print_summary(report: dict, full: Build, incr: Build, again: Build, bi: dict[str, dict[str, float]],
                  repeats: int) -> None:
    """The figures, each beside its baseline or target of the same run (``again``: the comparison refresh)."""
    ratio = report["ratio_incremental_to_full"]
    print(f"\nGold on {report['rows']:,} Silver sale lines over {report['days']} days "
          f"(Spark {report['spark_master']}, driver memory {report['driver_memory']}, {report['jit']} JIT, "
          f"{report['runs_on']}):")
    print(f"  full build        {full.seconds:8.1f} s   peak PSS {full.peak_mib:,.0f} MiB   (baseline)")
    print(f"  incremental       {incr.seconds:8.1f} s   peak PSS {incr.peak_mib:,.0f} MiB   "
          f"+{report['incremental']['added_rows']:,} rows; ratio to full {ratio:.3f} "
          f"(target <= {INCREMENTAL_TARGET}: {verdict(ratio, INCREMENTAL_TARGET)})")
    print(f"                    the latest day held {report['incremental']['latest_day_rows_before']:,} rows before "
          f"(the per-day aggregates rebuild it: the ratio grows with the hour of the run)")
    other = report["incremental_compared"]
    print(f"  incremental, {other['how']}: {again.seconds:.1f} s   peak PSS {again.peak_mib:,.0f} MiB   "
          f"+{other['added_rows']:,} more rows; ratio to full {other['ratio_to_full']:.3f}")
    print(f"  per table (s)     {'full':>8} {'incr':>8} {other['short']:>10}   (m: new rows merged in)")
    print(f"    {'(planning)':<24}{full.planned or 0:8.1f} {incr.planned or 0:8.1f} {again.planned or 0:10.1f}")

    def cell(build: Build, table: str, width: int) -> str:
        if table in build.tables:
            return f"{build.tables[table]:{width - 1}.1f}{'m' if table in build.merged else ' '}"
        return f"{'kept' if table in build.kept else '-':>{width}}"

    for table, secs in full.tables.items():
        print(f"    {table:<24}{secs:8.1f} {cell(incr, table, 8)} {cell(again, table, 10)}")
    print(f"BI queries through Trino on {GOLD}, {repeats} runs after a warm-up (target p95 <= {BI_P95_TARGET_S} s):")
    for name, q in bi.items():
        print(f"  {name:<34} first {q['first_s']:6.3f}  p50 {q['p50_s']:6.3f}  p95 {q['p95_s']:6.3f}  "
              f"max {q['max_s']:6.3f} s  {q['rows']:>4} rows  p95/target {q['p95_s'] / BI_P95_TARGET_S:.2f} "
              f"{verdict(q['p95_s'], BI_P95_TARGET_S)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="Silver sale lines of the full build")
    parser.add_argument("--days", type=int, default=0,
                        help=f"UTC days the rows spread over, ending today (0: all the master data covers, "
                             f"at most {MAX_DEFAULT_DAYS})")
    parser.add_argument("--increment", type=float, default=0.01, help="new rows before the incremental run, "
                        "as a share of --rows (all on the latest day)")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of each BI query (after one warm-up)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help=f"keep {SRC} and {GOLD} afterwards")
    parser.add_argument("--skip-generate", action="store_true",
                        help=f"reuse {SRC}.pos_sales of an earlier --keep run (the other streams are copied again)")
    parser.add_argument("--driver-memory", default="", help="Spark driver memory for every job (default: the "
                        "spark.driver_memory setting)")
    parser.add_argument("--jit", choices=JIT_MODES, default="full",
                        help="the JIT of every job with a driver of its own but a comparison refresh (spark.jit)")
    parser.add_argument("--timeout", type=float, default=3600, help="longest a single Gold build may take, s")
    args = parser.parse_args()
    if args.driver_memory:
        # the settings layer reads it, here and in every job started below
        os.environ["HEADWATER_SPARK__DRIVER_MEMORY"] = args.driver_memory
    os.environ["HEADWATER_SPARK__JIT"] = args.jit
    settings = load_settings()
    trino = Trino(settings)
    if not trino.health().ok:
        print("Trino is not running: start the stack with `make up`", file=sys.stderr)
        return 1

    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    keys_date = first_landing_day(settings.landing_dir)
    remote = settings.spark_remote
    server = connect_server_pids(settings) if remote else []
    report: dict[str, object] = {"source": SRC, "target": GOLD, "spark_master": settings.spark.master,
                                 "driver_memory": settings.spark.driver_memory, "jit": settings.spark.jit,
                                 "runs_on": f"on the Spark Connect server {remote}" if remote else "own driver"}
    try:
        # -- 1. Silver ---------------------------------------------------------------------------
        drop_tables(trino, GOLD)
        drop_tables(trino, SRC, keep=("pos_sales",) if args.skip_generate else ())
        sales = f"{SRC}.pos_sales"
        if args.skip_generate:
            first, newest, rows, offset = trino.query(
                f"select min(sold_at), max(sold_at), count(*), max(kafka_offset) + 1 from iceberg.{sales}")[0]
            if rows == 0 or newest.date() != today:
                raise SystemExit(f"--skip-generate: {sales} holds {rows} rows, newest {newest}: generate it today")
            first_day = first.date()
            report["generate_s"] = None
        else:
            first_day = sales_days(args.days, keys_date, today)
            rows, offset = args.rows, args.rows
            create_sales_table(settings, SRC)
            since = datetime.combine(first_day, datetime.min.time(), UTC)
            # up to a minute ago: no sale in the future, and the newest is fresh for the gates
            report["generate_s"] = round(generate(settings, sales, rows, 0, since, now - timedelta(minutes=1),
                                                  keys_date, args.seed), 1)
        days = (today - first_day).days + 1
        report.update({"rows": rows, "days": days, "first_day": str(first_day), "last_day": str(today)})
        during = (f"between timestamp '{first_day} 00:00:00 UTC' "
                  f"and timestamp '{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC'")
        report["copied_rows"] = copy_streams(trino, SRC, during)
        print(f"Silver: {rows:,} sale lines over {days} days ({first_day}..{today}) in {sales}"
              + (f", generated in {report['generate_s']} s" if report["generate_s"] else " (reused)")
              + f"; copied from silver: {report['copied_rows']}", flush=True)

        # -- 2. full build -------------------------------------------------------------------------
        ns = ["--source-namespace", SRC, "--target-namespace", GOLD]
        full = gold_daily("--start", str(today), "--full", *ns, "--run-id", "bench-full", timeout=args.timeout,
                          also=server)
        assert fact_store_lines(trino) == rows, "fact_sales does not hold every generated sale line"
        print(f"full build: {full.seconds:.1f} s (days {full.window})", flush=True)

        # -- 3. +increment, incremental refresh -----------------------------------------------------
        added = max(1, round(rows * args.increment))
        midnight = datetime.combine(today, datetime.min.time(), UTC)
        # the refresh's per-day aggregates rebuild the latest day, whose size follows the hour the bench
        # runs at (the rows spread evenly up to now): print it beside the ratio, which it moves
        day_rows = int(trino.query(f"select count(*) from iceberg.{sales} "
                                   f"where sold_at >= timestamp '{today} 00:00:00 UTC'")[0][0])
        report["increment_generate_s"] = round(generate(settings, sales, added, offset, midnight,
                                                        datetime.now(UTC) - timedelta(seconds=1), keys_date,
                                                        args.seed), 1)
        incr = gold_daily("--start", str(today), *ns, "--run-id", "bench-incremental", timeout=args.timeout,
                          also=server)
        # the refresh did pick the new lines up (a no-op run would look fast)
        assert fact_store_lines(trino) == rows + added, "the incremental run missed new sale lines"
        print(f"incremental: {incr.seconds:.1f} s (days {incr.window})", flush=True)

        # -- 3b. the same again another way: in a driver of its own (no server), else the other JIT ---
        if remote:
            how, short, compare_env = "own driver (spark-submit)", "own driver", {"HEADWATER_SPARK__CONNECT": "false"}
        else:
            other_jit = next(mode for mode in JIT_MODES if mode != settings.spark.jit)
            how, short, compare_env = f"{other_jit} JIT", f"{other_jit} JIT", {"HEADWATER_SPARK__JIT": other_jit}
        generate(settings, sales, added, offset + added, midnight, datetime.now(UTC) - timedelta(seconds=1),
                 keys_date, args.seed + 1)
        again = gold_daily("--start", str(today), *ns, "--run-id", "bench-incremental-compared",
                           timeout=args.timeout, env=compare_env)
        assert fact_store_lines(trino) == rows + 2 * added, "the second incremental run missed new sale lines"
        print(f"incremental, {how}: {again.seconds:.1f} s (days {again.window})", flush=True)

        # -- 4. BI latency --------------------------------------------------------------------------
        bi = bi_latency(trino, GOLD, args.repeats)
    finally:
        if not args.keep:
            for namespace in (GOLD, SRC):
                drop_tables(trino, namespace)
                trino.query(f"drop schema if exists iceberg.{namespace}")

    report.update({
        "full": {"seconds": round(full.seconds, 1), "peak_pss_mib": round(full.peak_mib), "window": full.window,
                 "planned_s": full.planned, "tables_s": full.tables},
        "incremental": {"added_rows": added, "latest_day_rows_before": day_rows,
                        "seconds": round(incr.seconds, 1), "peak_pss_mib": round(incr.peak_mib),
                        "window": incr.window, "planned_s": incr.planned, "tables_s": incr.tables,
                        "kept": incr.kept, "merged": incr.merged},
        "ratio_incremental_to_full": round(incr.seconds / full.seconds, 3),
        "incremental_compared": {"how": how, "short": short, "added_rows": added, "seconds": round(again.seconds, 1),
                                  "peak_pss_mib": round(again.peak_mib), "planned_s": again.planned,
                                  "tables_s": again.tables, "kept": again.kept,
                                  "ratio_to_full": round(again.seconds / full.seconds, 3)},
        "bi": bi})
    print(json.dumps(report, indent=2))
    print_summary(report, full, incr, again, bi, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
