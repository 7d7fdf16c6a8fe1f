"""pytest's root: the shared fixtures (ingest/tests/helpers.py) for both test trees."""

import pytest

from ingest.tests.helpers import demo_warehouse, every_kind_db, shared

__all__ = ["demo_warehouse", "every_kind_db", "shared"]

# Modules whose tests take minutes each (several dbt builds). pytest-xdist hands out tests
# in collection order, so these go first: started last, one of them alone would keep a
# worker busy after the other has run out of tests.
LONGEST_FIRST = (
    "wirehouse/tests/test_same_numbers.py",
    "wirehouse/tests/test_systemd_forms.py",
    "wirehouse/tests/test_source_matrix.py",
    "wirehouse/tests/test_incremental.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the same order on every worker
