"""Processes of the local stack: start in their own session, track by pid file, stop whole groups.

Every long-running service process is started here so that `down` can always find
and stop it (and its children) again, and so `up` can tell what already runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headwater.stack.errors import StackError


def _proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 22 (starttime) counted after the ")" that closes the command name
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class ManagedProcess:
    """A process of the stack, known by name, with its pid file and log file under the run dir."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid if the recorded process is still the one we started, else None."""
        try:
            pid_s, started = self.pid_file.read_text().split()
            pid = int(pid_s)
        except (OSError, ValueError):
            return None
        if _proc_start_time(pid) != started:
            return None  # gone, or the pid was reused by another process
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return None
        return None if state == "Z" else pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
              user: str | None = None, group: str | None = None) -> int:
        """Start ``argv`` detached in a new session; output goes to the log file."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- headwater: starting {self.name}: {' '.join(argv)}\n".encode())
            log.flush()
            kwargs = {}
            if user is not None:
                kwargs = {"user": user, "group": group, "extra_groups": []}
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True, close_fds=True, **kwargs,
            )
        started = None
        for _ in range(100):  # /proc entry appears at once; loop only guards a race
            started = _proc_start_time(proc.pid)
            if started:
                break
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> bool:
        """Signal the process group, wait up to ``timeout``, then kill what is left. True if it ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        pgid = os.getpgid(pid)
        _signal_group(pgid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                break
            time.sleep(0.2)
        else:
            _signal_group(pgid, signal.SIGKILL)
            wait_for(lambda: not _group_alive(pgid), 15, f"{self.name} to die after SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 25) -> str:
        try:
            data = self.log_file.read_bytes()[-20000:].decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(data.splitlines()[-lines:])


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pgid and stat[0] != "Z":
            return True
    return False


def wait_for(check: Callable[[], object], timeout: float, what: str,
             alive: Callable[[], bool] | None = None, log: Callable[[], str] | None = None,
             interval: float = 0.25) -> object:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds.

    ``alive`` lets the wait stop early, with the log tail, when the process it waits on died.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # a check that raises is simply "not ready yet"
            last_error = exc
        if alive is not None and not alive():
            detail = f"\n--- last log lines ---\n{log()}" if log else ""
            raise StackError(f"{what}: the process exited{detail}")
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            tail = f"\n--- last log lines ---\n{log()}" if log else ""
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{tail}")
        time.sleep(interval)
        interval = min(interval * 1.5, 2.0)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """Best-effort description of the process listening on a TCP port (via `ss`)."""
    try:
        out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "another process"
    return out.strip().split("users:")[-1].strip() if "users:" in out else "another process"


def ensure_port_free(host: str, port: int, service: str, setting: str) -> None:
    """Stop with a clear message when a port the service needs is taken by someone else."""
    if port_open(host, port):
        raise StackError(
            f"{service} needs port {port} on {host}, but it is already in use by {port_owner(port)}. "
            f"Stop that process, or choose another port with {setting}."
        )


def pss_kib(pid: int) -> int:
    """Proportional set size of one process in KiB (0 if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_pss_kib(pid: int) -> int:
    """PSS of a process and every process in its process group (children, workers)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return 0
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    total += pss_kib(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return total
