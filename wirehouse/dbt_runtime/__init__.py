"""What dbt runs inside DuckDB besides SQL: the plugin that registers wirehouse_pseudonym and
the keyed anonymisation behind it."""
