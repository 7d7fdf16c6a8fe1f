"""pytest's root: the shared fixtures (ingest/tests/helpers.py) for both test trees."""

import os

import pytest

from ingest.tests.helpers import demo_warehouse, every_kind_db, shared

__all__ = ["demo_warehouse", "every_kind_db", "shared"]

# Modules whose tests take minutes each (several dbt builds), longest first. pytest-xdist's
# worksteal hands each worker an equal slice of the collection in order, and a worker that
# runs out takes tests from the end of another's slice: so each slice starts with its share
# of these (dealt in turn), and what is left at the end to share is short.
LONGEST_FIRST = (
    "wirehouse/tests/test_same_numbers.py",
    "wirehouse/tests/test_source_matrix.py",
    "wirehouse/tests/test_network_marts.py",
    "wirehouse/tests/test_incremental.py",
    "wirehouse/tests/test_systemd_forms.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    module = {item: item.nodeid.split("::")[0] for item in items}
    slices: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for turn, name in enumerate(LONGEST_FIRST):
        slices[turn % workers] += [item for item in items if module[item] == name]
    rest = [item for item in items if module[item] not in LONGEST_FIRST]
    ordered: list[pytest.Item] = []
    for number, first in enumerate(slices):
        size = (len(items) - len(ordered)) // (workers - number)  # worksteal's first deal
        take = max(0, size - len(first))
        ordered += first + rest[:take]
        rest = rest[take:]
    items[:] = ordered + rest  # the same order on every worker
