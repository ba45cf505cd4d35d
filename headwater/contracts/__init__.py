"""Data contracts: each dataset declared once, in ``headwater/contracts/<name>.yaml``.

A contract names the fields (type, nullability, rules), the key, the event-time field,
lateness and freshness targets, and the partitioning. Everything else derives from it:
JSON validation here, Flink SQL in :mod:`headwater.contracts.flink`, Iceberg schemas in
:mod:`headwater.contracts.iceberg`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACTS_DIR = Path(__file__).resolve().parent
SCALAR_TYPES = ("string", "int", "long", "double", "boolean", "timestamp", "date")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
#: Wire format of timestamps: UTC, ISO-8601, optional milliseconds, a Z.
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{3})?Z$"


def text_pattern(f: Field) -> str | None:
    """The regular expression a value's JSON text must match to be of the field's type.

    Shared by the Python validator and the Flink SQL derivation so both parse alike: a
    scalar is read by its JSON text, so a number may come quoted ("3") and a string field
    takes 7 as "7", but 1.5 is no int, 1.234 no decimal(10,2) and an object no scalar.
    """
    if f.type in ("int", "long"):
        return r"^-?[0-9]{1,19}$"
    if f.type == "boolean":
        return r"^(true|false)$"
    if f.type == "timestamp":
        return TIMESTAMP_PATTERN
    if f.type == "date":
        return r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    if f.decimal:
        precision, scale = f.decimal
        return rf"^-?[0-9]{{1,{precision - scale}}}([.][0-9]{{1,{scale}}})?$"
    return None


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the field."""


def parse_duration(text: str | int) -> timedelta:
    """Parse ``30s``, ``5m``, ``48h``, ``2d`` or ``500ms``."""
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ContractError(f"bad duration {text!r}: use a number and one of ms, s, m, h, d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = True
    description: str = ""
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] = ()
    references: str | None = None

    @property
    def decimal(self) -> tuple[int, int] | None:
        m = _DECIMAL.match(self.type)
        return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class Violation:
    """Why a record breaks its contract: a reason code and a human-readable detail."""

    reason: str  # missing_field | wrong_type | out_of_range | unknown_enum | invalid_json
    field: str
    detail: str


SOURCES = ("kafka", "postgres", "files")
#: Record-level reasons, checked before the fields, in this order.
RECORD_REASONS = ("oversized", "invalid_utf8", "invalid_json", "null_key")
#: Every reason a record can be quarantined for, in order of precedence.
REASONS = (*RECORD_REASONS, "missing_field", "wrong_type", "unknown_enum", "out_of_range", "future_event_time")


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    source: str
    key: str
    fields: tuple[Field, ...]
    #: The event-time field; master-data files have none (they carry a file date).
    event_time: str | None = None
    partition_key: str | None = None
    watermark_delay: timedelta = timedelta(seconds=5)
    allowed_lateness: timedelta = timedelta(0)
    freshness_target: timedelta = timedelta(minutes=5)
    #: An event time further ahead of the clock than this is a broken clock, not an event.
    max_clock_skew: timedelta = timedelta(hours=1)
    #: Larger records are quarantined as oversized (Bronze still keeps them).
    max_record_bytes: int = 1024 * 1024
    partitioning: tuple[str, ...] = ()
    #: postgres: the table in the shop database; files: csv or json.
    source_table: str | None = None
    file_format: str | None = None

    @property
    def topic(self) -> str:
        """Kafka topic: the dataset's name, as everywhere else."""
        return self.name

    @property
    def changes_topic(self) -> str | None:
        """Kafka topic of a postgres dataset's change events (CDC); None for other sources."""
        return f"{self.name}_changes" if self.source == "postgres" else None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def classify(self, key: bytes | None, value: bytes | None, now: datetime | None = None) -> list[Violation]:
        """Check one Kafka record as received (bytes); empty list means it keeps the contract.

        ``now`` is when the record arrived (its Kafka timestamp), the reference of the clock check.

        The same checks, in the same order, as the Flink SQL derived in
        :mod:`headwater.contracts.flink`: record-level problems first, then the fields.
        """
        if value is not None and len(value) > self.max_record_bytes:
            return [Violation("oversized", "", f"{len(value)} bytes > {self.max_record_bytes}")]
        try:
            text = value.decode("utf-8") if value is not None else None
        except UnicodeDecodeError:
            return [Violation("invalid_utf8", "", "the value is not valid UTF-8")]
        try:
            record = json.loads(text) if text is not None else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            return [Violation("invalid_json", "", "the value is not a JSON object")]
        if self.partition_key and key is None:
            return [Violation("null_key", "", "the record has no key")]
        out = self.validate(record)
        if not out and self.event_time:
            now = now or datetime.now(UTC)
            ts = _typed(self.field(self.event_time), record.get(self.event_time))
            if ts is not None and ts > now + self.max_clock_skew:
                out.append(Violation("future_event_time", self.event_time,
                                     f"{self.event_time}={record[self.event_time]} is ahead of the clock"))
        return out

    def lateness(self, record: dict, arrival: datetime) -> str:
        """``on_time``, ``late`` (behind the watermark's delay, within the allowed lateness) or
        ``beyond`` (later than the allowed lateness), by when the record arrived in Kafka.

        Whole seconds, truncated, as Flink's TIMESTAMPDIFF counts them: the job routes the same way.
        """
        ts = _typed(self.field(self.event_time), record.get(self.event_time))
        seconds = int((arrival - ts).total_seconds())
        if seconds > self.allowed_lateness.total_seconds():
            return "beyond"
        return "late" if seconds > self.watermark_delay.total_seconds() else "on_time"

    def validate(self, record: Any) -> list[Violation]:
        """Check one decoded JSON record's fields against the contract; empty list means valid."""
        if not isinstance(record, dict):
            return [Violation("invalid_json", "", "the value is not a JSON object")]
        out: list[Violation] = []
        for f in self.fields:
            value = record.get(f.name)
            if value is None:
                if f.required:
                    out.append(Violation("missing_field", f.name, f"{f.name} is missing"))
                continue
            typed = _typed(f, value)
            if typed is None:
                out.append(Violation("wrong_type", f.name, f"{f.name}={value!r} is not of type {f.type}"))
                continue
            if f.enum and typed not in f.enum:
                out.append(Violation("unknown_enum", f.name, f"{f.name}={value!r} is not one of {list(f.enum)}"))
            if (f.min is not None and typed < f.min) or (f.max is not None and typed > f.max):
                out.append(Violation("out_of_range", f.name, f"{f.name}={value!r} is outside [{f.min}, {f.max}]"))
        return out


def _json_text(value: Any) -> str | None:
    """A scalar's text as a JSON path query returns it (strings unquoted); None for arrays/objects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _typed(f: Field, value: Any) -> Any:
    """The value as the contract's type, or None when it is not of that type."""
    text = _json_text(value)
    if text is None:
        return None
    pattern = text_pattern(f)
    if pattern is not None and not re.match(pattern, text):
        return None
    try:
        if f.type in ("int", "long"):
            lo, hi = INT_RANGE[f.type]
            return int(text) if lo <= int(text) <= hi else None
        if f.type == "double":
            return float(text)
        if f.type == "boolean":
            return text == "true"
        if f.type == "string":
            return text
        if f.type == "timestamp":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if f.type == "date":
            return datetime.strptime(text, "%Y-%m-%d").date()
        if f.decimal:
            return Decimal(text)
    except (ValueError, InvalidOperation):
        return None
    return None


def _field(raw: dict[str, Any], where: str) -> Field:
    if "name" not in raw or "type" not in raw:
        raise ContractError(f"{where}: every field needs a name and a type")
    typ = str(raw["type"]).replace(" ", "")
    if typ not in SCALAR_TYPES and not _DECIMAL.match(typ):
        raise ContractError(f"{where}.{raw['name']}: unknown type {typ!r} "
                            f"(use {', '.join(SCALAR_TYPES)} or decimal(p,s))")
    unknown = set(raw) - {"name", "type", "required", "description", "min", "max", "enum", "references"}
    if unknown:
        raise ContractError(f"{where}.{raw['name']}: unknown keys {sorted(unknown)}")
    # the engines check an enum by the value's text and bounds by number (ParseRecord.java)
    if raw.get("enum") and typ != "string":
        raise ContractError(f"{where}.{raw['name']}: enum applies to string fields, not {typ}")
    if (raw.get("min") is not None or raw.get("max") is not None) \
            and typ not in ("int", "long", "double") and not _DECIMAL.match(typ):
        raise ContractError(f"{where}.{raw['name']}: min and max apply to numbers, not {typ}")
    return Field(
        name=raw["name"], type=typ, required=bool(raw.get("required", True)),
        description=raw.get("description", ""), min=raw.get("min"), max=raw.get("max"),
        enum=tuple(raw.get("enum") or ()), references=raw.get("references"),
    )


def parse_contract(data: dict[str, Any], where: str = "contract") -> Contract:
    """Build a Contract from its decoded YAML, checking it hangs together."""
    known = {"name", "description", "source", "key", "event_time", "fields", "partition_key", "watermark_delay",
             "allowed_lateness", "freshness_target", "max_clock_skew", "max_record_bytes", "partitioning",
             "source_table", "file_format"}
    unknown = set(data) - known
    if unknown:
        raise ContractError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        fields = tuple(_field(f, f"{where}.fields") for f in data["fields"])
        contract = Contract(
            name=data["name"], description=data.get("description", ""), source=data.get("source", "kafka"),
            key=data["key"], event_time=data.get("event_time"), fields=fields,
            partition_key=data.get("partition_key"),
            watermark_delay=parse_duration(data.get("watermark_delay", "5s")),
            allowed_lateness=parse_duration(data.get("allowed_lateness", "0s")),
            freshness_target=parse_duration(data.get("freshness_target", "5m")),
            max_clock_skew=parse_duration(data.get("max_clock_skew", "1h")),
            max_record_bytes=int(data.get("max_record_bytes", 1024 * 1024)),
            partitioning=tuple(data.get("partitioning") or ()),
            source_table=data.get("source_table"), file_format=data.get("file_format"),
        )
    except KeyError as exc:
        raise ContractError(f"{where}: missing {exc.args[0]!r}") from None
    if contract.source not in SOURCES:
        raise ContractError(f"{where}: source must be one of {', '.join(SOURCES)}")
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate field names")
    for ref in (contract.key, contract.event_time, contract.partition_key):
        if ref is not None and ref not in names:
            raise ContractError(f"{where}: {ref!r} is not a field")
    if contract.source != "files":
        if contract.event_time is None:
            raise ContractError(f"{where}: a {contract.source} stream needs an event_time field")
        if contract.field(contract.event_time).type != "timestamp":
            raise ContractError(f"{where}: the event-time field must be a timestamp")
    if contract.source == "files" and contract.file_format not in ("csv", "json"):
        raise ContractError(f"{where}: a files dataset needs file_format csv or json")
    if contract.source == "postgres" and not contract.source_table:
        raise ContractError(f"{where}: a postgres dataset needs source_table")
    if not contract.field(contract.key).required:
        raise ContractError(f"{where}: the key field must be required")
    return contract


@cache
def load_contract(name: str) -> Contract:
    """The contract of one dataset, by name."""
    path = CONTRACTS_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(contract_names()) or "none"
        raise ContractError(f"no contract named {name!r} (known: {known})")
    return parse_contract(yaml.safe_load(path.read_text()), where=path.name)


def contract_names() -> list[str]:
    return sorted(p.stem for p in CONTRACTS_DIR.glob("*.yaml"))


def contracts(source: str | None = None) -> list[Contract]:
    """Every contract, or those of one source (kafka, postgres, files)."""
    return [c for c in map(load_contract, contract_names()) if source is None or c.source == source]


def stream_contracts() -> list[Contract]:
    """Contracts of the streams that arrive through Kafka."""
    return contracts("kafka")


def cdc_contracts() -> list[Contract]:
    """Contracts of the OLTP tables captured by CDC (their changes arrive through Kafka too)."""
    return contracts("postgres")
