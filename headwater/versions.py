"""The pinned version matrix (versions.toml), readable with the standard library alone.

Run as a script to print the pip constraints of one environment, which the Makefile
uses to bootstrap the core virtual environment before anything else is installed:

    python3.11 headwater/versions.py constraints core
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.toml"


@lru_cache(maxsize=1)
def load() -> dict:
    """Return the parsed versions.toml."""
    with VERSIONS_FILE.open("rb") as f:
        return tomllib.load(f)


def env_packages(env: str) -> list[str]:
    """Pinned pip requirements of one virtual environment (core, flink, spark, airflow)."""
    try:
        return list(load()["envs"][env]["packages"])
    except KeyError:
        raise KeyError(f"versions.toml has no [envs.{env}]") from None


def jdk_major(component: str) -> int:
    """The Java major version a JVM component runs on."""
    return int(load()["jdk"][component])


def fingerprint(obj: object) -> str:
    """A short stable hash, used to name cache directories after what they contain."""
    blob = json.dumps(obj, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "constraints":
        print("\n".join(env_packages(argv[1])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
