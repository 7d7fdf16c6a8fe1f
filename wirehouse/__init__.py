"""The wirehouse tool around the ingest library: the CLI, wirehouse.toml and `run`, the
serving side (publish, query, report), demo data and the dbt runtime (plugin, anonymisation)."""
