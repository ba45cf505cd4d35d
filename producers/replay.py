"""CSV replay: a file of events sent to a stream's topic in event-time order, at a chosen speed-up.

Columns are matched to the contract's fields by name; values are read as the field's
type and written in the wire format; a row without an event id gets one derived from
its content, so a replay of the same file sends the same ids.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from headwater.contracts import Contract, Field, load_contract
from headwater.settings import Settings
from producers.common import iso
from producers.faults import Message, encode, message_key
from producers.run import ProduceError, ProduceOptions, ProduceResult, produce

_NAMESPACE = uuid.UUID("6f1c4a52-8d0e-4d1b-9d7e-3c2a1b0f9e55")


def _value(f: Field, text: str) -> object:
    if text == "":
        return None
    if f.type in ("int", "long"):
        return int(text)
    if f.type == "double":
        return float(text)
    if f.decimal:
        return float(Decimal(text))
    if f.type == "boolean":
        return text.strip().lower() in ("true", "1", "yes")
    if f.type == "timestamp":
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return iso(ts if ts.tzinfo else ts.replace(tzinfo=UTC))
    return text


def read_events(path: Path, contract: Contract) -> list[dict]:
    """Rows of the CSV as contract events, sorted by event time."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        if contract.event_time not in columns:
            raise ProduceError(f"{path}: no {contract.event_time!r} column (the event time of {contract.name})")
        unknown = columns - {fl.name for fl in contract.fields}
        if unknown:
            raise ProduceError(f"{path}: columns {sorted(unknown)} are not fields of {contract.name}")
        events = []
        for n, row in enumerate(reader, start=2):
            try:
                event = {fl.name: _value(fl, row.get(fl.name, "")) for fl in contract.fields}
            except ValueError as exc:
                raise ProduceError(f"{path}:{n}: {exc}") from None
            if not event.get(contract.key):
                event[contract.key] = str(uuid.uuid5(_NAMESPACE, f"{contract.name}:{sorted(row.items())}"))
            events.append(event)
    return sorted(events, key=lambda e: e[contract.event_time])


def replay_csv(settings: Settings, path: str | Path, stream: str, speedup: float = 0.0,
               progress: bool = True) -> ProduceResult:
    """Send a CSV file's rows to ``stream`` in event-time order (speedup 0: as fast as possible)."""
    if not stream or "," in stream:
        raise ProduceError("--from-csv replays into one stream: name it with --stream")
    contract = load_contract(stream)
    events = read_events(Path(path), contract)
    if not events:
        raise ProduceError(f"{path} has no rows")
    start = datetime.fromisoformat(events[0][contract.event_time].replace("Z", "+00:00"))

    def messages() -> Iterator[tuple[datetime, Message]]:
        for event in events:
            t = datetime.fromisoformat(event[contract.event_time].replace("Z", "+00:00"))
            yield t, Message(stream, message_key(contract, event), encode(event), "valid", event[contract.key])

    opts = ProduceOptions(streams=(stream,), start=start, speedup=speedup)
    return produce(settings, opts, progress=progress, messages=messages())
