"""The Spark lane's row comparison (no Spark needed: both sides as pandas frames)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from wirehouse.spark.portability import (
    _compare_frames,
    _micros,
    _ulp_apart,
    check_plan,
    plans_report,
)


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


# Physical plans as Spark 4.3 prints them (EXPLAIN), shortened
WINDOW_OVER_EVERYTHING = """== Physical Plan ==
AdaptiveSparkPlan isFinalPlan=false
+- Window [row_number() windowspecdefinition(v#13L ASC NULLS FIRST) AS rn#4], [v#13L ASC]
   +- Sort [v#13L ASC NULLS FIRST], false, 0
      +- Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=18]
         +- Project [id#15L AS v#13L]
            +- Range (0, 1000, step=1, splits=2)
"""
WINDOW_PER_KEY_AND_GLOBAL_MIN = """== Physical Plan ==
AdaptiveSparkPlan isFinalPlan=false
+- Project [v#25L, (v#25L - Subquery subquery#65, [id=#133]) AS d#28L]
   :  +- Subquery subquery#65, [id=#133]
   :     +- AdaptiveSparkPlan isFinalPlan=false
   :        +- HashAggregate(keys=[], functions=[min(v#81L), count(distinct k#36L)])
   :           +- Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=131]
   :              +- HashAggregate(keys=[], functions=[merge_min(v#81L), partial_count(k#36L)])
   :                 +- HashAggregate(keys=[k#36L], functions=[merge_min(v#81L)])
   :                    +- Exchange hashpartitioning(k#36L, 4), ENSURE_REQUIREMENTS, [plan_id=74]
   :                       +- Range (0, 1000, step=1, splits=2)
   +- Window [lag(v#25L, -1, null) windowspecdefinition(k#24L, ts#26 ASC)], [k#24L], [ts#26 ASC]
      +- Sort [k#24L ASC NULLS FIRST, ts#26 ASC NULLS FIRST], false, 0
         +- Exchange hashpartitioning(k#24L, node_id#2, 4), ENSURE_REQUIREMENTS, [plan_id=43]
            +- Range (0, 1000, step=1, splits=2)
"""
TAKE_ORDERED = """== Physical Plan ==
TakeOrderedAndProject(limit=3, orderBy=[v#111L ASC NULLS FIRST], output=[k#110L,v#111L])
+- *(1) Range (0, 1000, step=1, splits=2)
"""


def test_a_window_over_every_row_is_a_step_in_one_task() -> None:
    check = check_plan("fct_x", WINDOW_OVER_EVERYTHING)
    assert check.single_task_steps == ["Exchange SinglePartition over Project [id AS v]"]
    assert check.partition_keys == []


def test_shuffles_by_key_and_a_global_aggregate_run_in_parallel() -> None:
    check = check_plan("fct_x", WINDOW_PER_KEY_AND_GLOBAL_MIN)
    assert check.single_task_steps == []  # the min gathers one row per task
    assert check.partition_keys == ["k", "k, node_id"]


def test_an_ordered_limit_runs_in_one_task() -> None:
    check = check_plan("fct_x", TAKE_ORDERED)
    assert check.single_task_steps[0].startswith("TakeOrderedAndProject(limit=3")
    report = plans_report([check])
    assert "no shuffle" in report and "1 with a step in one task" in report
