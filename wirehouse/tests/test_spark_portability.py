"""The Spark lane's row comparison (no Spark needed: both sides as pandas frames)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from wirehouse.spark_portability import _compare_frames, _micros, _ulp_apart


def test_nanoseconds_round_to_microseconds_as_duckdb_casts() -> None:
    base = pd.Timestamp("2025-01-22 14:01:13")
    assert _micros(base + pd.Timedelta(nanoseconds=1_499)) == _micros(base) + 1
    assert _micros(base + pd.Timedelta(nanoseconds=1_500)) == _micros(base) + 2
    assert _micros(dt.date(2025, 1, 22)) == _micros(pd.Timestamp("2025-01-22"))


def test_equal_relations_in_any_order_with_engine_types() -> None:
    ours = pd.DataFrame(
        {
            "day": [pd.Timestamp("2025-01-22"), pd.Timestamp("2025-01-23")],
            "n": [3.0, None],  # DuckDB's HUGEINT sums arrive as floats
            "types": [["DM1", "POLL"], []],
        }
    )
    theirs = pd.DataFrame(
        {
            "day": [dt.date(2025, 1, 23), dt.date(2025, 1, 22)],
            "n": [None, 3],
            "types": [[], ["DM1", "POLL"]],
        }
    )
    result = _compare_frames("marts.x", ours, theirs)
    assert (result.differing_rows, result.ulp_rows, result.problems) == (0, 0, [])


def test_a_difference_is_counted_and_named() -> None:
    ours = pd.DataFrame({"k": ["a", "b"], "v": [1.5, 2.0]})
    theirs = pd.DataFrame({"k": ["a", "b"], "v": [1.5, 2.5]})
    result = _compare_frames("marts.x", ours, theirs)
    assert result.differing_rows == 2  # one row on each side without its equal
    assert result.problems[0].startswith("v: 1 rows differ")


def test_doubles_one_ulp_apart_are_counted_apart() -> None:
    x = 2.2984584880817254
    assert _ulp_apart(("a", x), ("a", math.nextafter(x, 3))) == [1]
    assert _ulp_apart(("a", x), ("b", math.nextafter(x, 3))) == []
    ours = pd.DataFrame({"k": ["a"], "v": [x]})
    theirs = pd.DataFrame({"k": ["a"], "v": [math.nextafter(x, 0)]})
    result = _compare_frames("marts.x", ours, theirs)
    assert (result.differing_rows, result.ulp_rows) == (0, 1)
