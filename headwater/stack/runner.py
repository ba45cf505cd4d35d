"""`up`, `down` and `status` of the local stack."""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Any

from headwater.settings import Settings
from headwater.stack import CORE_SERVICES, services
from headwater.stack.base import Service
from headwater.stack.errors import StackError


def preflight(settings: Settings) -> None:
    """Stop early, with what to install, when a prerequisite is missing."""
    if not settings.is_local:
        raise StackError("`up` runs the local stack; the cluster profile points at services that run elsewhere "
                         "(unset HEADWATER_PROFILE or set it to local)")
    if sys.version_info[:2] != (3, 11):
        raise StackError(f"headwater needs Python 3.11 (this is {sys.version.split()[0]}): install python3.11")
    missing = [tool for tool in ("mvn",) if shutil.which(tool) is None]
    if missing:
        raise StackError("Maven (`mvn`) is needed to fetch JVM artifacts from Maven Central: "
                         "install it (e.g. `apt-get install maven`) and run `make up` again")
    settings.run_dir.mkdir(parents=True, exist_ok=True)


def _header(svc: Service) -> None:
    print(f"▸ {svc.title}", flush=True)


def up(settings: Settings, only: list[str] | None = None) -> None:
    """Install and start whatever is not running yet, in order; report what already runs."""
    preflight(settings)
    started = time.monotonic()
    for svc in services(settings):
        if only and svc.name not in only:
            continue
        _header(svc)
        t0 = time.monotonic()
        svc.install()
        if svc.running():
            print("  · already running")
            continue
        if svc.partly_running():
            print("  · some processes of it were left running: restarting it")
            svc.stop()
        svc.check_ports()
        svc.start()
        svc.wait_ready()
        print(f"  · ready in {time.monotonic() - t0:.1f}s", flush=True)
    print(f"\nThe stack is up ({time.monotonic() - started:.0f}s).\n")
    print_table(settings, collect_status(settings))


def down(settings: Settings) -> None:
    """Stop every service (jobs with a savepoint first); data stays."""
    for svc in reversed(services(settings)):
        try:
            if svc.stop():
                print(f"▸ stopped {svc.title}", flush=True)
        except Exception as exc:  # keep stopping the others
            print(f"▸ {svc.title}: {exc}", file=sys.stderr)


def collect_status(settings: Settings) -> list[dict[str, Any]]:
    rows = []
    for svc in services(settings):
        t0 = time.monotonic()
        try:
            health = svc.health()
        except Exception as exc:
            from headwater.stack.base import Health

            health = Health(False, str(exc))
        rows.append({
            "service": svc.name,
            "title": svc.title,
            "core": svc.name in CORE_SERVICES,
            "healthy": health.ok,
            "detail": health.detail,
            "endpoints": svc.endpoints(),
            "memory_mib": round(svc.memory_kib() / 1024),
            "check_ms": round((time.monotonic() - t0) * 1000),
            **({"extra": health.extra} if health.extra else {}),
        })
    return rows


def print_table(settings: Settings, rows: list[dict[str, Any]]) -> None:
    width = max(len(r["title"]) for r in rows)
    for r in rows:
        mark = "ok  " if r["healthy"] else "DOWN"
        mem = f"{r['memory_mib']:>5} MiB" if r["memory_mib"] else "         "
        print(f"  {mark} {r['title']:<{width}} {mem}  {r['detail']}")
    print("\nEndpoints:")
    for r in rows:
        for label, url in r["endpoints"].items():
            print(f"  {label:<22} {url}")
    creds = credentials(settings)
    if creds:
        print("\nCredentials:")
        for label, value in creds.items():
            print(f"  {label:<22} {value}")


def credentials(settings: Settings) -> dict[str, str]:
    from headwater.stack.airflow import Airflow

    out = {}
    try:
        out["Airflow UI"] = f"user {settings.airflow.admin_user}, password {Airflow(settings).admin_password()}"
    except (OSError, StackError):
        pass
    pw = settings.secrets_dir / "postgres.password"
    if pw.exists():
        out["PostgreSQL"] = f"user {settings.postgres.user}, password in {pw}"
    out["Trino"] = f"user {settings.trino.user}, no password (local)"
    return out


def status(settings: Settings, as_json: bool = False) -> int:
    rows = collect_status(settings)
    if as_json:
        print(json.dumps({"profile": settings.profile, "run_dir": str(settings.run_dir), "services": rows},
                         indent=2, default=str))
    else:
        print_table(settings, rows)
        if all(r["healthy"] for r in rows if r["service"] in ("kafka", "flink", "trino", "streaming")):
            from headwater.lag import render, stream_lags

            print("\nStreams (`headwater lag`):")
            print(render(stream_lags(settings)))
    return 0 if all(r["healthy"] for r in rows if r["core"]) else 1
