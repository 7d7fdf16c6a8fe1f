"""wirehouse ingest: land raw network measurements in DuckDB (CLI: `wirehouse`)."""
