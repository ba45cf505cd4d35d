"""Flink SQL derived from a contract: column types, parsing expressions and rule checks.

Parsing never raises: a value that does not fit its type becomes NULL, and the rule checks turn
that into a reason code, so a malformed record is routed to quarantine instead of failing the job.
The checks run in the project's Java functions (``flink_jobs/java``), fed by the contract.
"""

from __future__ import annotations

import json

from headwater.contracts import Contract, Field, text_pattern
from headwater.contracts.types import engine_type


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def flink_type(f: Field) -> str:
    """The Flink SQL type of a contract field."""
    return engine_type(f, "flink")


def quote(identifier: str) -> str:
    return f"`{identifier}`"


#: The project's Java functions (flink_jobs/java): the sources' event time, read from the bytes,
#: stopping at its field (EventTime.java) ...
EVENT_TIME = "HW_EVENT_TIME"
#: ... the whole contract check of a record in one pass (ParseRecord.java; see parse_spec) ...
PARSE_RECORD = "HW_PARSE_RECORD"
#: ... and the start of a fixed UTC window, for the Silver aggregates' grain (WindowStart.java)
WINDOW_START = "HW_WINDOW_START"
#: Registers the functions (the jar travels with the job: see headwater.stack.flink)
FUNCTION_DDLS = tuple(f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {name} AS 'headwater.flink.{cls}' LANGUAGE JAVA"
                      for name, cls in ((EVENT_TIME, "EventTime"), (PARSE_RECORD, "ParseRecord"),
                                        (WINDOW_START, "WindowStart")))


def event_time_expr(contract: Contract, value: str, arrival: str = "`kafka_timestamp`") -> str:
    """A record's rowtime: its event-time field when believable (at most the contract's clock skew
    ahead of its arrival), else its arrival. One call per use: the source evaluates it for the
    column and for the watermark, on every record, so it is a quick read that stops at the field
    (the full parse comes after)."""
    seconds = int(contract.max_clock_skew.total_seconds())
    return f"{EVENT_TIME}({value}, {_string_literal(contract.event_time)}, {arrival}, {seconds})"


def _number_text(value: float | None) -> str | None:
    return None if value is None else str(value)


def parse_spec(contract: Contract) -> str:
    """The contract as :data:`PARSE_RECORD` reads it (JSON): fields, types, text patterns, enums and
    bounds, and the wording of every detail, so the Java side holds the order of the checks only."""
    fields = []
    for f in contract.fields:
        details = {"missing_field": f"{f.name} is missing", "prefix": f"{f.name}=",
                   "wrong_type": f" is not of type {f.type}"}
        if f.enum:
            details["unknown_enum"] = f" is not one of {', '.join(f.enum)}"
        if f.min is not None or f.max is not None:
            details["out_of_range"] = f" is outside [{f.min}, {f.max}]"
        # the timestamp reader admits exactly the text rule's form: no pattern needed for it
        pattern = None if f.type == "timestamp" else text_pattern(f)
        fields.append({"name": f.name, "type": "decimal" if f.decimal else f.type,
                       **({"precision": f.decimal[0], "scale": f.decimal[1]} if f.decimal else {}),
                       "required": f.required, "pattern": pattern, "enum": list(f.enum) or None,
                       "min": _number_text(f.min), "max": _number_text(f.max), "details": details})
    spec = {
        "max_record_bytes": contract.max_record_bytes,
        "key_required": bool(contract.partition_key),
        "event_time": contract.event_time,
        "max_clock_skew_seconds": int(contract.max_clock_skew.total_seconds()),
        "details": {"oversized": f"the value is larger than {contract.max_record_bytes} bytes",
                    "invalid_utf8": "the value is not valid UTF-8",
                    "invalid_json": "the value is not a JSON object",
                    "null_key": "the record has no key",
                    "future_event_time": " is ahead of the clock"},
        "fields": fields,
    }
    return json.dumps(spec, separators=(",", ":"))


#: The column :func:`parsed_select` adds: the record's verdict, a ROW (see ParseRecord.java)
PARSED_COLUMN = "`parsed__`"
TYPED_PREFIX = "typed__"


def parsed_select(contract: Contract, source: str, value: str, key: str, arrival: str = "`kafka_timestamp`") -> str:
    """A SELECT over ``source`` adding each field as its type (``typed__<name>``), ``reason`` and
    ``detail`` (NULL, NULL for a record that keeps its contract) to every column.

    One call per record does the whole check (:data:`PARSE_RECORD`); the outer projection only
    reads the fields of its result. The checks written as SQL, over a parse shared through stacked
    projections, were the larger part of the job's source thread.
    """
    call = f"{PARSE_RECORD}({value}, {key}, {arrival}, {_string_literal(parse_spec(contract))})"
    typed = ",\n  ".join(f"parse_layer.{PARSED_COLUMN}.{quote(f.name)} AS {quote(TYPED_PREFIX + f.name)}"
                         for f in contract.fields)
    return f"""SELECT parse_layer.*,
  {typed},
  parse_layer.{PARSED_COLUMN}.`reason__` AS `reason`,
  parse_layer.{PARSED_COLUMN}.`detail__` AS `detail`
FROM (
  SELECT src.*, {call} AS {PARSED_COLUMN}
  FROM {source} AS src
) AS parse_layer"""
