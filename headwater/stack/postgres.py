"""PostgreSQL: the Iceberg JDBC catalog, Airflow's metadata and the `shop` OLTP database."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from headwater import versions
from headwater.settings import generate_secret
from headwater.stack import install
from headwater.stack.base import Health, Service
from headwater.stack.errors import StackError
from headwater.stack.proc import wait_for


class Postgres(Service):
    name = "postgres"
    title = "PostgreSQL"
    start_timeout = 60

    @property
    def home(self) -> Path:
        return self.settings.run_dir / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.postgres.port, "HEADWATER_POSTGRES__PORT")]

    def endpoints(self) -> dict[str, str]:
        pg = self.settings.postgres
        return {"PostgreSQL": f"postgresql://{pg.user}@{pg.host}:{pg.port} (password: {self.password_file})"}

    @property
    def password_file(self) -> Path:
        return self.settings.secrets_dir / "postgres.password"

    # -- binaries ---------------------------------------------------------------------
    def bin_dir(self) -> Path:
        """Installed server binaries (newest major first), else the pgserver wheel's."""
        if self.settings.postgres.bin_dir:
            path = Path(self.settings.postgres.bin_dir)
            if not (path / "postgres").exists():
                raise StackError(f"HEADWATER_POSTGRES__BIN_DIR={path} holds no `postgres` binary")
            return path
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                            key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
                            reverse=True)
        on_path = shutil.which("postgres")
        if on_path:
            candidates.append(Path(on_path))
        for binary in candidates:
            if (binary.parent / "initdb").exists():
                return binary.parent
        return self._wheel_bin_dir()

    def _wheel_bin_dir(self) -> Path:
        wheel = versions.load()["postgres"]["fallback_wheel"]
        target = self.settings.cache_dir / "postgres" / wheel.replace("==", "-")
        if not (target / install.MARKER).exists():
            install.say(f"no PostgreSQL server installed: fetching {wheel} from PyPI")
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
            subprocess.run([str(target / "bin" / "pip"), "install", "-q", wheel], check=True)
            (target / install.MARKER).touch()
        found = list(target.glob("lib/python3*/site-packages/pgserver/pginstall/bin"))
        if not found:
            raise StackError(f"{wheel} installed but carries no server binaries; install PostgreSQL "
                             "(e.g. `apt-get install postgresql`) or set HEADWATER_POSTGRES__BIN_DIR")
        # the wheel's files must be readable by the unprivileged user that runs the server
        os.chmod(target, 0o755)
        return found[0]

    # -- running as non-root ----------------------------------------------------------
    def _os_user(self) -> tuple[str, int, int] | None:
        """PostgreSQL refuses to run as root: pick the unprivileged user to run it as."""
        if os.geteuid() != 0:
            return None
        name = self.settings.postgres.os_user
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise StackError(f"PostgreSQL cannot run as root and the user {name!r} does not exist: "
                             "create it or set HEADWATER_POSTGRES__OS_USER to an existing unprivileged user") from None
        return name, entry.pw_uid, entry.pw_gid

    def _as_user(self) -> dict:
        user = self._os_user()
        return {} if user is None else {"user": user[1], "group": user[2], "extra_groups": []}

    def install(self) -> None:
        self.bin_dir()

    def _initdb(self) -> None:
        password = generate_secret(self.password_file)
        self.home.mkdir(parents=True, exist_ok=True)
        user = self._os_user()
        if user is not None:
            os.chown(self.home, user[1], user[2])
            check = subprocess.run(["test", "-w", str(self.home)], **self._as_user())
            if check.returncode != 0:
                raise StackError(
                    f"PostgreSQL runs as {user[0]!r} (it refuses root), but {user[0]!r} cannot reach "
                    f"{self.home}: a parent directory is private. Set HEADWATER_RUN_DIR to a path "
                    f"{user[0]!r} can traverse (e.g. under /var/tmp), or HEADWATER_POSTGRES__OS_USER."
                )
            check = subprocess.run([str(self.bin_dir() / "postgres"), "--version"], capture_output=True,
                                   **self._as_user())
            if check.returncode != 0:
                raise StackError(
                    f"{user[0]!r} cannot run {self.bin_dir() / 'postgres'} (a parent directory is private). "
                    "Install PostgreSQL system-wide (e.g. `apt-get install postgresql`), or set "
                    "HEADWATER_CACHE_DIR to a directory other users can traverse."
                )
        pwfile = self.home / "initdb.pw"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        if user is not None:
            os.chown(pwfile, user[1], user[2])
        try:
            install.say("initialising the PostgreSQL cluster")
            proc = subprocess.run(
                [str(self.bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", self.settings.postgres.user,
                 f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                 "-E", "UTF8", "--locale=C.UTF-8"],
                capture_output=True, text=True, **self._as_user())
            if proc.returncode != 0:
                raise StackError(f"initdb failed:\n{proc.stdout}\n{proc.stderr}")
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        s = self.settings
        argv = [
            str(self.bin_dir() / "postgres"), "-D", str(self.data_dir),
            "-c", f"listen_addresses={s.bind_host}", "-c", f"port={s.postgres.port}",
            "-c", "unix_socket_directories=",  # TCP only: no socket in a shared /tmp or /var/run
            "-c", "wal_level=logical",  # the shop database is captured by CDC (logical decoding)
            "-c", "max_replication_slots=10", "-c", "max_wal_senders=10",
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
        ]
        self.processes()[0].start(argv, **self._user_kwargs())

    def _user_kwargs(self) -> dict:
        user = self._os_user()
        return {} if user is None else {"user": user[0], "group": user[2]}

    def connect(self, dbname: str = "postgres"):  # -> psycopg.Connection
        import psycopg

        pg = self.settings.postgres
        return psycopg.connect(host=pg.host, port=pg.port, user=pg.user, password=self.settings.postgres_password,
                               dbname=dbname, connect_timeout=3, autocommit=True)

    def _ping(self) -> bool:
        with self.connect() as conn:
            return conn.execute("select 1").fetchone()[0] == 1

    def wait_ready(self) -> None:
        proc = self.processes()[0]
        wait_for(self._ping, self.start_timeout, "PostgreSQL to accept connections",
                 alive=proc.running, log=proc.log_tail)
        self.ensure_databases()

    def ensure_databases(self) -> None:
        pg = self.settings.postgres
        with self.connect() as conn:
            have = {r[0] for r in conn.execute("select datname from pg_database")}
            for db in (pg.catalog_database, pg.airflow_database, pg.shop_database):
                if db not in have:
                    conn.execute(f'create database "{db}"')

    def health(self) -> Health:
        try:
            with self.connect() as conn:
                version = conn.execute("show server_version").fetchone()[0]
                wal = conn.execute("show wal_level").fetchone()[0]
            return Health(True, f"PostgreSQL {version}, wal_level={wal}")
        except Exception as exc:
            return Health(False, f"not answering on {self.settings.postgres.host}:{self.settings.postgres.port}: {exc}")

    def stop(self) -> bool:
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to leave.
        return self.processes()[0].stop(signal.SIGINT, timeout=60)


