"""headwater: a streaming-first lakehouse you can run on one machine."""

from pathlib import Path

__version__ = "0.1.0"

#: The checkout (or installed source tree) root: where versions.toml, sql/ and the jobs live.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
