"""pytest's root: the shared fixtures (ingest/tests/helpers.py) for both test trees."""

from ingest.tests.helpers import demo_warehouse, every_kind_db, shared

__all__ = ["demo_warehouse", "every_kind_db", "shared"]
