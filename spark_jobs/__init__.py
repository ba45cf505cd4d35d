"""PySpark jobs: pure DataFrame transforms plus thin mains that read and write Iceberg."""
