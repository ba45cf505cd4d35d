"""The shape every local service has: install, start, health, stop, endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.settings import Settings
from headwater.stack.proc import ManagedProcess, ensure_port_free, group_pss_kib


@dataclass
class Health:
    ok: bool
    detail: str = ""
    extra: dict[str, object] = field(default_factory=dict)


class Service:
    """One service of the local stack. Subclasses fill in the steps for their service."""

    name: str = ""
    title: str = ""
    #: Seconds `up` waits for the service to become healthy.
    start_timeout: float = 120.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- what a service has -----------------------------------------------------------
    def processes(self) -> list[ManagedProcess]:
        """The processes this service runs (empty for services that are libraries only)."""
        return [ManagedProcess(self.name, self.settings.run_dir)]

    def ports(self) -> list[tuple[int, str]]:
        """(port, the setting that moves it) for each port the service listens on."""
        return []

    def endpoints(self) -> dict[str, str]:
        return {}

    # -- steps --------------------------------------------------------------------------
    def install(self) -> None:
        """Fetch and prepare whatever the service needs; cheap when already done."""

    def running(self) -> bool:
        procs = self.processes()
        return bool(procs) and all(p.running() for p in procs)

    def partly_running(self) -> bool:
        return any(p.running() for p in self.processes())

    def check_ports(self) -> None:
        for port, setting in self.ports():
            ensure_port_free(self.settings.bind_host, port, self.title, setting)

    def start(self) -> None:
        raise NotImplementedError

    def wait_ready(self) -> None:
        """Block until healthy, polling with a deadline."""

    def health(self) -> Health:
        raise NotImplementedError

    def stop(self) -> bool:
        stopped = False
        for proc in reversed(self.processes()):
            stopped = proc.stop() or stopped
        return stopped

    def memory_kib(self) -> int:
        """PSS of the service's processes and their children."""
        total = 0
        for proc in self.processes():
            pid = proc.pid()
            if pid:
                total += group_pss_kib(pid)
        return total

    def log_tail(self) -> str:
        return "\n".join(p.log_tail() for p in self.processes())
