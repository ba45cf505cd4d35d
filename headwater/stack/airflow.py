"""Apache Airflow 3: api-server, scheduler, dag-processor and triggerer as four processes,
metadata on the stack's PostgreSQL, LocalExecutor with small parallelism, simple auth
manager with an admin password generated at first start (kept with mode 0600).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from headwater import PROJECT_ROOT
from headwater.settings import generate_secret
from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import ManagedProcess, wait_for

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# the log servers of scheduler and triggerer bind every interface and cannot be told otherwise:
# skip them; the api-server reads task logs from the local log folder instead
_SKIP_SERVE_LOGS = {"scheduler", "triggerer"}


class Airflow(Service):
    name = "airflow"
    title = "Airflow"
    start_timeout = 180

    def processes(self) -> list[ManagedProcess]:
        return [ManagedProcess(f"airflow-{c}", self.settings.run_dir) for c in COMPONENTS]

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "airflow"

    @property
    def passwords_file(self) -> Path:
        return self.settings.secrets_dir / "airflow-passwords.json"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.airflow.port, "HEADWATER_AIRFLOW__PORT")]

    def endpoints(self) -> dict[str, str]:
        return {"Airflow UI": self.settings.airflow.url}

    def install(self) -> None:
        self.venv = install.ensure_venv(self.settings, "airflow")

    def admin_password(self) -> str:
        """The admin password, generated at first start."""
        data = json.loads(self.passwords_file.read_text())
        return data[self.settings.airflow.admin_user]

    def _secrets(self) -> dict[str, str]:
        sd = self.settings.secrets_dir
        if not self.passwords_file.exists():
            password = generate_secret(sd / "airflow-admin.password")
            fd = os.open(self.passwords_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({self.settings.airflow.admin_user: password}, f)
        return {
            # all four processes must share these: a scheduler with another JWT secret cannot run tasks
            "AIRFLOW__CORE__FERNET_KEY": generate_secret(
                sd / "airflow-fernet.key", factory=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
            "AIRFLOW__API__SECRET_KEY": generate_secret(sd / "airflow-api-secret.key", nbytes=32),
            "AIRFLOW__API_AUTH__JWT_SECRET": generate_secret(sd / "airflow-jwt.secret", nbytes=64),
        }

    def env(self) -> dict[str, str]:
        s, a = self.settings, self.settings.airflow
        pg = s.postgres
        env = dict(os.environ)
        env.update(self._secrets())
        env.update({
            "AIRFLOW_HOME": str(self.home),
            # psycopg2 for sync; Airflow derives the asyncpg URL itself
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.postgres_url(pg.airflow_database),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # LocalExecutor forks this many workers at scheduler start
            "AIRFLOW__CORE__PARALLELISM": str(a.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(a.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "airflow" / "dags"),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{a.admin_user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{a.url}/execution/",
            "AIRFLOW__API__HOST": s.bind_host,
            "AIRFLOW__API__PORT": str(a.port),
            "AIRFLOW__API__BASE_URL": a.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            # DAG tasks call the headwater CLI of this checkout (Spark jobs run in the Spark environment)
            "AIRFLOW_VAR_HEADWATER_CLI": str(Path(sys.executable).parent / "headwater"),
            "PYTHONPATH": str(PROJECT_ROOT),
        })
        return env

    def _airflow(self) -> str:
        return str(self.venv / "bin" / "airflow")

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = self.env()
        install.say("migrating the Airflow metadata database")
        proc = subprocess.run([self._airflow(), "db", "migrate"], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"`airflow db migrate` failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        for component, managed in zip(COMPONENTS, self.processes(), strict=True):
            if managed.running():
                continue
            argv = [self._airflow(), component]
            if component in _SKIP_SERVE_LOGS:
                argv.append("--skip-serve-logs")
            managed.start(argv, env=env, cwd=self.home)

    def monitor(self) -> dict:
        with urllib.request.urlopen(f"{self.settings.airflow.url}/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())

    def _healthy(self) -> bool:
        data = self.monitor()
        return all(data.get(k, {}).get("status") == "healthy"
                   for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def wait_ready(self) -> None:
        procs = self.processes()
        wait_for(self._healthy, self.start_timeout, "Airflow's api-server, scheduler, dag-processor and triggerer",
                 alive=lambda: all(p.running() for p in procs),
                 log=lambda: "\n".join(p.log_tail(8) for p in procs))

    def health(self) -> Health:
        try:
            data = self.monitor()
        except Exception as exc:
            return Health(False, f"api-server {self.settings.airflow.url} not answering: {exc}")
        parts = {k: data.get(k, {}).get("status", "?") for k in ("scheduler", "dag_processor", "triggerer")}
        ok = all(v == "healthy" for v in parts.values()) and all(p.running() for p in self.processes())
        return Health(ok, ", ".join(f"{k} {v}" for k, v in parts.items()))

    def api(self, path: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> dict:
        """Call Airflow's REST API (``/api/v2`` + ``path``) as the admin user; the parsed JSON answer."""
        req = urllib.request.Request(f"{self.settings.airflow.url}/api/v2{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token or self.token()}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def token(self) -> str:
        """An API token for the admin user."""
        body = json.dumps({"username": self.settings.airflow.admin_user, "password": self.admin_password()})
        req = urllib.request.Request(f"{self.settings.airflow.url}/auth/token", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["access_token"]
