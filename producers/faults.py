"""Fault injection: late, out-of-order, duplicated and malformed records, each labelled.

The generators make valid events; this layer turns a chosen share of them into the
faults a real pipeline meets, and says for each message what it is, so the ledger knows
where downstream must put it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from headwater.contracts import Contract
from producers.common import iso

#: Malformed classes and the quarantine reason each must end up with.
MALFORMED = {
    "invalid_json": "invalid_json",
    "wrong_type": "wrong_type",
    "missing_field": "missing_field",
    "out_of_range": "out_of_range",
    "unknown_enum": "unknown_enum",
    "far_future": "future_event_time",
    "oversized": "oversized",
    "non_utf8": "invalid_utf8",
    "null_key": "null_key",
}


@dataclass(frozen=True)
class FaultPlan:
    """Shares of messages to spoil (each between 0 and 1) and how."""

    late: float = 0.0
    #: of the late ones, the share later than the contract's allowed lateness
    late_beyond: float = 0.25
    disorder: float = 0.0
    duplicates: float = 0.0
    malformed: float = 0.0
    malformed_classes: tuple[str, ...] = tuple(MALFORMED)

    def __post_init__(self) -> None:
        for name in ("late", "late_beyond", "disorder", "duplicates", "malformed"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"fault share {name}={value} must be between 0 and 1")
        if self.late + self.duplicates + self.malformed > 1:
            raise ValueError("late + duplicates + malformed shares add up to more than 1")
        unknown = set(self.malformed_classes) - set(MALFORMED)
        if unknown:
            raise ValueError(f"unknown malformed classes {sorted(unknown)} (known: {', '.join(MALFORMED)})")


@dataclass(slots=True)
class Message:
    """One Kafka message to send, with what it is."""

    stream: str
    key: bytes | None
    value: bytes
    #: valid | late | late_beyond_limit | duplicate | malformed
    kind: str
    event_id: str | None
    malformed_class: str | None = None

    @property
    def expected(self) -> str:
        """Where downstream must put it: silver, late_events, quarantine (or bronze only, for resends)."""
        return {"valid": "silver", "late": "silver", "late_beyond_limit": "late_events",
                "duplicate": "bronze", "malformed": "quarantine"}[self.kind]


def encode(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def message_key(contract: Contract, event: dict) -> bytes | None:
    value = event.get(contract.partition_key or contract.key)
    return None if value is None else str(value).encode()


def shift_event_time(contract: Contract, event: dict, delta: timedelta) -> dict:
    ts = datetime.fromisoformat(event[contract.event_time].replace("Z", "+00:00"))
    return {**event, contract.event_time: iso(ts - delta)}


def corrupt(contract: Contract, event: dict, cls: str, rng: random.Random, now: datetime) -> tuple[bytes | None, bytes]:
    """(key, value) of a message of malformed class ``cls`` made from a valid event."""
    key = message_key(contract, event)
    fields = [f for f in contract.fields if f.name != contract.key]
    if cls == "invalid_json":
        value = encode(event)
        return key, value[: rng.randint(1, len(value) - 2)]
    if cls == "wrong_type":
        typed = [f for f in fields if f.type != "string"] or fields
        f = rng.choice(typed)
        return key, encode({**event, f.name: "n/a" if f.type != "string" else {"nested": True}})
    if cls == "missing_field":
        f = rng.choice([f for f in fields if f.required])
        return key, encode({k: v for k, v in event.items() if k != f.name})
    if cls == "out_of_range":
        bounded = [f for f in fields if f.max is not None or f.min is not None]
        if not bounded:
            raise ValueError(f"{contract.name} declares no ranges: out_of_range cannot apply")
        f = rng.choice(bounded)
        bad = f.max * 10 + 1 if f.max is not None else f.min - 1
        return key, encode({**event, f.name: int(bad) if f.type in ("int", "long") else bad})
    if cls == "unknown_enum":
        enums = [f for f in fields if f.enum]
        if not enums:
            raise ValueError(f"{contract.name} declares no enums: unknown_enum cannot apply")
        return key, encode({**event, rng.choice(enums).name: "no_such_value"})
    if cls == "far_future":
        ahead = contract.max_clock_skew + timedelta(days=rng.randint(2, 400))
        return key, encode({**event, contract.event_time: iso(now + ahead)})
    if cls == "oversized":
        return key, encode({**event, "padding": "x" * (contract.max_record_bytes + 1024)})
    if cls == "non_utf8":
        value = encode(event)
        i = value.index(b'":"') + 3  # inside the first string value
        return key, value[:i] + b"\xff\xfe" + value[i:]
    if cls == "null_key":
        return None, encode(event)
    raise ValueError(f"unknown malformed class {cls!r}")


def applicable_classes(contract: Contract, classes: tuple[str, ...]) -> list[str]:
    """The malformed classes a contract can be broken in (no enums: no unknown_enum, ...)."""
    out = []
    for cls in classes:
        if cls == "unknown_enum" and not any(f.enum for f in contract.fields):
            continue
        if cls == "out_of_range" and not any(f.min is not None or f.max is not None for f in contract.fields):
            continue
        if cls == "null_key" and not contract.partition_key:
            continue
        out.append(cls)
    return out


class FaultInjector:
    """Turns one stream's valid events into messages, spoiling shares of them per the plan."""

    def __init__(self, contract: Contract, plan: FaultPlan, rng: random.Random) -> None:
        self.contract, self.plan, self.rng = contract, plan, rng
        self.classes = applicable_classes(contract, plan.malformed_classes)

    def messages(self, event: dict, now: datetime) -> list[Message]:
        c, p, rng = self.contract, self.plan, self.rng
        out: list[Message] = []
        if p.disorder and rng.random() < p.disorder:
            # out of order, but within the watermark's bounded out-of-orderness: still on time
            event = shift_event_time(c, event, c.watermark_delay * rng.uniform(0.1, 0.8))
        eid = event[c.key]
        if self.classes and rng.random() < p.malformed:
            cls = rng.choice(self.classes)
            key, value = corrupt(c, event, cls, rng, now)
            return [Message(c.name, key, value, "malformed", eid, cls)]
        if rng.random() < p.late / max(1e-9, 1 - p.malformed):
            if rng.random() < p.late_beyond:
                lateness = c.allowed_lateness * rng.uniform(1.2, 2.0) + timedelta(minutes=1)
                kind = "late_beyond_limit"
            else:
                lateness, kind = c.watermark_delay * 3 + c.allowed_lateness * rng.uniform(0.05, 0.8), "late"
            event = shift_event_time(c, event, lateness)
            return [Message(c.name, message_key(c, event), encode(event), kind, eid)]
        out = [Message(c.name, message_key(c, event), encode(event), "valid", eid)]
        if rng.random() < p.duplicates:
            # the same event sent again at once (a retry without idempotence, a replayed batch); a
            # resend much later would be a late event as well, and is not what this fault models
            out.append(Message(c.name, out[0].key, out[0].value, "duplicate", eid))
        return out
