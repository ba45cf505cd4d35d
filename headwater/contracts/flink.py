"""Flink SQL derived from a contract: column types, parsing expressions and rule checks.

Parsing never raises: a value that does not fit its type becomes NULL (``TRY_CAST``,
``JSON_VALUE`` returns NULL on error), and the rule checks turn that into a reason code,
so a malformed record is routed to quarantine instead of failing the job.
"""

from __future__ import annotations

from headwater.contracts import Contract, Field, text_pattern
from headwater.contracts.types import engine_type

# ISO-8601 in UTC, with or without milliseconds, as the producers write it
_TS_FORMATS = ("yyyy-MM-dd''T''HH:mm:ss.SSSX", "yyyy-MM-dd''T''HH:mm:ssX")


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def flink_type(f: Field) -> str:
    """The Flink SQL type of a contract field."""
    return engine_type(f, "flink")


def quote(identifier: str) -> str:
    return f"`{identifier}`"


def raw_value(f: Field, payload: str) -> str:
    """The field's text as it appears in the JSON payload (NULL when absent or not a scalar)."""
    return f"JSON_VALUE({payload}, '$.{f.name}')"


def parse_expr(f: Field, payload: str) -> str:
    """An expression giving the field as its contract type, or NULL when it does not parse."""
    raw = raw_value(f, payload)
    if f.type == "string":
        return raw
    if f.type == "timestamp":
        tries = ", ".join(f"TO_TIMESTAMP_LTZ({raw}, '{fmt}', 'UTC')" for fmt in _TS_FORMATS)
        typed = f"COALESCE({tries})"
    else:
        typed = f"TRY_CAST({raw} AS {flink_type(f)})"
    pattern = text_pattern(f)
    if pattern is None:
        return typed
    # the same text rule as the Python validator: TRY_CAST alone would turn 1.5 into the int 1
    return f"CASE WHEN REGEXP({raw}, {_string_literal(pattern)}) THEN {typed} END"


def _sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def byte_length(column: str) -> str:
    """Length in bytes of a BYTES column (Flink SQL has no length function for bytes)."""
    b64 = f"TO_BASE64({column})"
    padding = f"CASE WHEN {b64} LIKE '%==' THEN 2 WHEN {b64} LIKE '%=' THEN 1 ELSE 0 END"
    return f"(CHAR_LENGTH({b64}) / 4 * 3 - {padding})"


def rule_checks(contract: Contract, value: str, key: str,
                arrival: str = "`kafka_timestamp`") -> list[tuple[str, str, str]]:
    """(condition that means broken, reason code, detail expression) in order of precedence.

    ``value`` and ``key`` are the record's raw BYTES columns; the order is the one of
    :meth:`headwater.contracts.Contract.classify`.
    """
    payload = f"CAST({value} AS STRING)"
    checks: list[tuple[str, str, str]] = [
        (f"{value} IS NOT NULL AND {byte_length(value)} > {contract.max_record_bytes}", "oversized",
         f"'the value is larger than {contract.max_record_bytes} bytes'"),
        # decoding replaces invalid sequences: a value that does not survive the round trip is not UTF-8
        (f"CAST({payload} AS BYTES) <> {value}", "invalid_utf8", "'the value is not valid UTF-8'"),
        (f"NOT ({payload} IS JSON OBJECT)", "invalid_json", "'the value is not a JSON object'"),
    ]
    if contract.partition_key:
        checks.append((f"{key} IS NULL", "null_key", "'the record has no key'"))
    for f in contract.fields:
        raw, typed = raw_value(f, payload), parse_expr(f, payload)
        # JSON_VALUE is NULL for an absent key, a JSON null and an object or array alike;
        # JSON_QUERY tells the last apart (it returns only objects and arrays)
        nested = f"JSON_QUERY({payload}, '$.{f.name}')"
        if f.required:
            checks.append((f"{raw} IS NULL AND {nested} IS NULL", "missing_field",
                           _sql_literal(f"{f.name} is missing")))
        checks.append((f"{nested} IS NOT NULL", "wrong_type",
                       f"CONCAT('{f.name}=', {nested}, ' is not of type {f.type}')"))
        checks.append((f"{raw} IS NOT NULL AND {typed} IS NULL", "wrong_type",
                       f"CONCAT('{f.name}=', {raw}, ' is not of type {f.type}')"))
        if f.enum:
            allowed = ", ".join(_sql_literal(v) for v in f.enum)
            checks.append((f"{typed} NOT IN ({allowed})", "unknown_enum",
                           f"CONCAT('{f.name}=', {raw}, ' is not one of {', '.join(f.enum)}')"))
        bounds = []
        if f.min is not None:
            bounds.append(f"{typed} < {f.min}")
        if f.max is not None:
            bounds.append(f"{typed} > {f.max}")
        if bounds:
            checks.append((" OR ".join(bounds), "out_of_range",
                           f"CONCAT('{f.name}=', {raw}, ' is outside [{f.min}, {f.max}]')"))
    if contract.event_time:
        event_time = contract.field(contract.event_time)
        checks.append((f"{parse_expr(event_time, payload)} > {not_after(contract, arrival)}", "future_event_time",
                       f"CONCAT('{event_time.name}=', {raw_value(event_time, payload)}, ' is ahead of the clock')"))
    return checks


def not_after(contract: Contract, arrival: str = "`kafka_timestamp`") -> str:
    """The latest believable event time of a record that arrived at ``arrival``: later ones come
    from a broken clock. Measured against the record's Kafka timestamp (when the producer sent
    it), not the clock of the job, so a replay after a failure classifies a record the same way."""
    seconds = int(contract.max_clock_skew.total_seconds())
    return f"TIMESTAMPADD(SECOND, {seconds}, {arrival})"


def reason_exprs(contract: Contract, value: str, key: str, arrival: str = "`kafka_timestamp`") -> tuple[str, str]:
    """(reason code, detail) SQL expressions: NULL, NULL for a record that keeps its contract."""
    checks = rule_checks(contract, value, key, arrival)
    reason = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r, _ in checks) + " END"
    detail = "CASE " + " ".join(f"WHEN {c} THEN {d}" for c, _, d in checks) + " END"
    return reason, detail
