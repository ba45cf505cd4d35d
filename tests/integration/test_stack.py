"""The stack as a user sees it: status, loopback-only ports, and clear errors for missing prerequisites."""

import json
import os
import socket
import subprocess
import sys

import pytest

from headwater import PROJECT_ROOT
from headwater.stack import CORE_SERVICES, services

pytestmark = pytest.mark.integration


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "headwater", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env=env, timeout=300)


def test_status_json_shows_every_core_service_healthy(stack):
    proc = _run("status", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["service"]: r for r in json.loads(proc.stdout)["services"]}
    assert set(CORE_SERVICES) <= set(rows)
    assert all(rows[name]["healthy"] for name in CORE_SERVICES), {n: rows[n]["detail"] for n in CORE_SERVICES}
    assert any(j["name"] == "headwater-ingest" and j["state"] == "RUNNING"
               for j in rows["flink"]["extra"]["jobs"])
    # the workloads `make up` starts: ingest job, event producer, OLTP writer, master-data writer
    for name in ("streaming", "producer", "shop-writer", "masterdata"):
        assert rows[name]["healthy"], (name, rows[name]["detail"])
    assert "shop.orders" in rows["shop-writer"]["detail"] and "daily drops" in rows["masterdata"]["detail"]


def test_every_listening_port_of_the_stack_is_on_loopback(stack):
    pgids = set()
    for svc in services(stack):
        for proc in svc.processes():
            pid = proc.pid()
            if pid:
                pgids.add(os.getpgid(pid))
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = []
    for line in out.splitlines():
        local = line.split()[3]
        pids = [int(p.split("=")[1]) for p in line.split("users:")[-1].replace(")", ",").split(",")
                if p.startswith("pid=")]
        mine = []
        for pid in pids:
            try:
                mine.append(os.getpgid(pid) in pgids)
            except ProcessLookupError:
                mine.append(False)
        if any(mine):
            ours.append(local)
    assert len(ours) >= 8, ours  # kafka x2, postgres, flink x5+, trino, airflow
    assert all(addr.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]") for addr in ours), ours


def test_missing_maven_stops_up_with_what_to_install(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "HEADWATER_RUN_DIR": str(tmp_path / "run")}
    proc = _run("up", env=env)
    assert proc.returncode == 1
    assert "Maven" in proc.stderr and "apt-get install maven" in proc.stderr
    assert proc.stderr.count("error:") == 1


def test_taken_port_names_the_service_and_the_port(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {**os.environ, "HEADWATER_RUN_DIR": str(tmp_path / "run"), "HEADWATER_POSTGRES__PORT": str(port)}
        proc = _run("up", "--only", "postgres", env=env)
    assert proc.returncode == 1
    assert f"PostgreSQL needs port {port}" in proc.stderr and "already in use" in proc.stderr
    assert "HEADWATER_POSTGRES__PORT" in proc.stderr


def test_lag_reports_every_stream_against_its_freshness_target(stack):
    from headwater.contracts import cdc_contracts, stream_contracts
    from headwater.stack.proc import wait_for

    def report() -> dict | None:
        proc = _run("lag", "--json")
        assert proc.returncode == 0, proc.stderr
        lags = {row["stream"]: row for row in json.loads(proc.stdout)}
        # right after a (re)start a stream has no watermark until each partition had data or went idle (30 s)
        # (CDC mirrors have no watermark: nothing downstream of them is windowed)
        ready = all((r["event_time_delay_s"] is not None or r["stream"] in cdc) and r["silver_freshness_s"] is not None
                    for r in lags.values())
        return lags if ready else None

    cdc = {c.name for c in cdc_contracts()}
    lags = wait_for(report, 180, "every stream to report a watermark and a freshness", interval=5)
    assert set(lags) == {c.name for c in stream_contracts()} | cdc
    for name in cdc:
        assert lags[name]["consumer_lag"] is not None and lags[name]["consumer_lag"] >= 0
    for c in stream_contracts():
        row = lags[c.name]
        assert row["consumer_lag"] is not None and row["consumer_lag"] >= 0
        assert row["freshness_target_s"] == c.freshness_target.total_seconds()
