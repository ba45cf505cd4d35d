"""Flink SQL derived from a contract: column types, parsing expressions and rule checks.

Parsing never raises: a value that does not fit its type becomes NULL (``TRY_CAST``,
``JSON_VALUE`` returns NULL on error), and the rule checks turn that into a reason code,
so a malformed record is routed to quarantine instead of failing the job.
"""

from __future__ import annotations

from headwater.contracts import Contract, Field, text_pattern
from headwater.contracts.types import engine_type


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def flink_type(f: Field) -> str:
    """The Flink SQL type of a contract field."""
    return engine_type(f, "flink")


def quote(identifier: str) -> str:
    return f"`{identifier}`"


#: The project's JSON reader (flink_jobs/java/headwater/flink/JsonFields.java): every named field
#: of a payload in one streaming parse, where JSON_VALUE parses the whole payload once per field.
JSON_FIELDS = "HW_JSON_FIELDS"
#: ... and its reader of the contracts' one timestamp form (UtcTimestamp.java): a cast from a
#: string goes through a general date-time formatter, a tenth of the job's time
UTC_TIMESTAMP = "HW_UTC_TIMESTAMP"
#: ... and the sources' event time (EventTime.java): read from the bytes, stopping at its field
EVENT_TIME = "HW_EVENT_TIME"
#: Registers the functions (the jar travels with the job: see headwater.stack.flink)
FUNCTION_DDLS = tuple(f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {name} AS 'headwater.flink.{cls}' LANGUAGE JAVA"
                      for name, cls in ((JSON_FIELDS, "JsonFields"), (UTC_TIMESTAMP, "UtcTimestamp"),
                                        (EVENT_TIME, "EventTime")))


def event_time_expr(contract: Contract, value: str, arrival: str = "`kafka_timestamp`") -> str:
    """A record's rowtime: its event-time field when believable (see :func:`not_after`), else its
    arrival. One call per use: the source evaluates it for the column and for the watermark, on
    every record, so it is a quick read that stops at the field (the full parse comes after)."""
    seconds = int(contract.max_clock_skew.total_seconds())
    return f"{EVENT_TIME}({value}, {_string_literal(contract.event_time)}, {arrival}, {seconds})"


def json_fields(payload: str, fields: list[Field]) -> str:
    """An ARRAY<STRING>: [1] 'object' for a well-formed JSON object (else NULL), then each field's
    scalar text (JSON_VALUE's), then each field's object or array text (JSON_QUERY's)."""
    return f"{JSON_FIELDS}({payload}, {_string_literal(','.join(f.name for f in fields))})"


def raw_value(f: Field, payload: str) -> str:
    """The field's text as it appears in the JSON payload (NULL when absent or not a scalar)."""
    return f"{json_fields(payload, [f])}[2]"


def typed_expr(f: Field, raw: str) -> str:
    """The field as its contract type, from its JSON text ``raw``; NULL when it does not parse."""
    if f.type == "string":
        return raw
    if f.type == "timestamp":
        # the function admits exactly the text rule's form (TIMESTAMP_PATTERN): no regex needed
        return f"{UTC_TIMESTAMP}({raw})"
    else:
        typed = f"TRY_CAST({raw} AS {flink_type(f)})"
    pattern = text_pattern(f)
    if pattern is None:
        return typed
    # the same text rule as the Python validator: TRY_CAST alone would turn 1.5 into the int 1
    return f"CASE WHEN REGEXP({raw}, {_string_literal(pattern)}) THEN {typed} END"


def parse_expr(f: Field, payload: str) -> str:
    """An expression giving the field as its contract type, or NULL when it does not parse."""
    return typed_expr(f, raw_value(f, payload))


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
    :meth:`headwater.contracts.Contract.classify`. Each field's JSON text, nested JSON and typed
    value are read from the columns :func:`parsed_select` computes once per record.
    """
    payload = PAYLOAD_COLUMN

    def raw_of(f: Field) -> str:
        return quote(RAW_PREFIX + f.name)

    def typed_of(f: Field) -> str:
        return quote(TYPED_PREFIX + f.name)

    checks: list[tuple[str, str, str]] = [
        # a Java char is at most 3 UTF-8 bytes (a pair of surrogates 4), and an undecodable byte
        # becomes one char: a payload of at most max/3 chars cannot be oversized, and the exact byte
        # count (a base64 encoding of the whole value) is only computed for the long ones
        (f"{value} IS NOT NULL AND CHAR_LENGTH({payload}) * 3 > {contract.max_record_bytes} "
         f"AND {byte_length(value)} > {contract.max_record_bytes}", "oversized",
         f"'the value is larger than {contract.max_record_bytes} bytes'"),
        # decoding replaces invalid sequences: a value that does not survive the round trip is not UTF-8
        (f"CAST({payload} AS BYTES) <> {value}", "invalid_utf8", "'the value is not valid UTF-8'"),
        (f"{FIELDS_COLUMN}[1] IS NULL", "invalid_json", "'the value is not a JSON object'"),
    ]
    if contract.partition_key:
        checks.append((f"{key} IS NULL", "null_key", "'the record has no key'"))
    for f in contract.fields:
        raw, typed = raw_of(f), typed_of(f)
        # the scalar text is NULL for an absent key, a JSON null and an object or array alike;
        # the nested text tells the last apart
        nested = quote(NESTED_PREFIX + f.name)
        if f.required:
            checks.append((f"{raw} IS NULL AND {nested} IS NULL", "missing_field",
                           _sql_literal(f"{f.name} is missing")))
        checks.append((f"{raw} IS NULL AND {nested} IS NOT NULL", "wrong_type",
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
        checks.append((f"{typed_of(event_time)} > {not_after(contract, arrival)}", "future_event_time",
                       f"CONCAT('{event_time.name}=', {raw_of(event_time)}, ' is ahead of the clock')"))
    return checks


def not_after(contract: Contract, arrival: str = "`kafka_timestamp`") -> str:
    """The latest believable event time of a record that arrived at ``arrival``: later ones come
    from a broken clock. Measured against the record's Kafka timestamp (when the producer sent
    it), not the clock of the job, so a replay after a failure classifies a record the same way."""
    seconds = int(contract.max_clock_skew.total_seconds())
    return f"TIMESTAMPADD(SECOND, {seconds}, {arrival})"


def reason_exprs(contract: Contract, value: str, key: str, arrival: str = "`kafka_timestamp`") -> tuple[str, str]:
    """(reason code, detail) SQL expressions over :func:`parsed_select`'s columns: NULL, NULL for a
    record that keeps its contract."""
    checks = rule_checks(contract, value, key, arrival)
    reason = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r, _ in checks) + " END"
    detail = "CASE " + " ".join(f"WHEN {c} THEN {d}" for c, _, d in checks) + " END"
    return reason, detail


#: Flink merges stacked projections and repeats a deterministic expression wherever the upper one
#: uses it; it keeps a projection apart when merging would repeat a non-deterministic one. Wrapping
#: the parse and each typed value in a branch on RAND() (always taken) makes them count as
#: non-deterministic, so each is computed once per record however many rules read it.
MATERIALIZE = "CASE WHEN RAND() >= 0 THEN {expr} END"

#: Columns :func:`parsed_select` adds: the value as text, the parsed fields, and each field's JSON
#: text, nested JSON and typed value.
PAYLOAD_COLUMN = "`payload__`"
FIELDS_COLUMN = "`fields__`"
RAW_PREFIX = "raw__"
TYPED_PREFIX = "typed__"
NESTED_PREFIX = "nested__"


def parsed_select(contract: Contract, source: str, value: str, key: str, arrival: str = "`kafka_timestamp`") -> str:
    """A SELECT over ``source`` adding the typed fields, ``reason`` and ``detail`` to every column.

    In layers: the payload is parsed once per record (one streaming pass for all fields), each
    typed value computed once, however many rules read them. Parsing per field and rule, as
    JSON_VALUE does, made ingest more than ten times slower.
    """
    n = len(contract.fields)
    # SQL arrays count from 1: [1] is the object marker, then n scalar texts, then n nested texts
    raws = ",\n      ".join(
        f"{FIELDS_COLUMN}[{2 + i}] AS {quote(RAW_PREFIX + f.name)}, "
        f"{FIELDS_COLUMN}[{2 + n + i}] AS {quote(NESTED_PREFIX + f.name)}"
        for i, f in enumerate(contract.fields))
    typed = ",\n    ".join(
        MATERIALIZE.format(expr=typed_expr(f, quote(RAW_PREFIX + f.name))) + f" AS {quote(TYPED_PREFIX + f.name)}"
        for f in contract.fields)
    reason, detail = reason_exprs(contract, value, key, arrival)
    parse = MATERIALIZE.format(expr=json_fields(f"CAST({value} AS STRING)", list(contract.fields)))
    # the rules run once per record for the reason; the detail repeats them only for broken records
    return f"""SELECT checked_layer.*, CASE WHEN `reason` IS NOT NULL THEN {detail} END AS `detail`
FROM (
SELECT typed_layer.*, {MATERIALIZE.format(expr=reason)} AS `reason`
FROM (
  SELECT raw_layer.*,
    {typed}
  FROM (
    SELECT parsed_layer.*,
      {raws}
    FROM (
      SELECT src.*, CAST({value} AS STRING) AS {PAYLOAD_COLUMN}, {parse} AS {FIELDS_COLUMN}
      FROM {source} AS src
    ) AS parsed_layer
  ) AS raw_layer
) AS typed_layer
) AS checked_layer"""
