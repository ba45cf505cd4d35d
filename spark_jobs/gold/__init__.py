"""Gold: pure DataFrame transforms for the dimensions, facts, aggregates and ML features of the lakehouse.

Conventions shared by every module here:

- Each public function is a pure transform ``DataFrame(s) -> DataFrame``: no I/O, no hostnames or
  paths. Thin mains (not in this package) read Silver and the landing files, call them and write
  the Gold tables.
- Silver tables and landing files are read by the contracts' field names
  (``headwater/contracts/*.yaml``); Silver's metadata columns (``is_late``, Kafka coordinates,
  ``ingested_at``) are not used. A landing file's date (from its name) comes in as an argument
  (``snapshot_date``) or, for many files at once, as a ``snapshot_date`` column.
- Days are UTC days: run Spark with ``spark.sql.session.timeZone=UTC`` so ``to_date`` of an
  event time gives the same day everywhere.
- SCD Type 2 versions cover ``valid_from <= day < valid_to``; the current version has
  ``valid_to = OPEN_END`` (9999-12-31, never NULL) and ``is_current = true``, so a point-in-time
  join is one range condition without NULL handling (``dimensions.OPEN_END``).

Modules: ``dimensions`` (SCD Type 2 and plain dimensions, calendar), ``facts``, ``aggregates``,
``features`` (point-in-time ML features with labels), ``incremental`` (the days new Silver rows
fall on and the window that covers them).
"""
