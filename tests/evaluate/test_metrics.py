"""Metrics on hand-computed examples, plus a few properties."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pictrace.evaluate import (
    QueryOutcome,
    evaluate,
    expected_calibration_error,
    latency,
    micro_average_precision,
    recall_at_k,
    recall_at_precision,
    reliability_markdown,
    reliability_table,
    report_markdown,
)


def outcome(
    query: str,
    expected: str | None,
    ranked: list[tuple[str, float]],
    family: str = "",
    latency_s: float | None = None,
) -> QueryOutcome:
    wanted = frozenset() if expected is None else frozenset({expected})
    return QueryOutcome(query, wanted, tuple(ranked), family, latency_s)


# q1 right at rank 1, q2 right at rank 2, q3 a negative whose answer is the most confident of all,
# q4 a positive with no results.
Q1 = outcome("q1", "a", [("a", 0.9), ("b", 0.5)], "crop", 0.1)
Q2 = outcome("q2", "c", [("d", 0.8), ("c", 0.6)], "crop", 0.2)
Q3 = outcome("q3", None, [("e", 0.95)], "blur", 0.3)
Q4 = outcome("q4", "f", [], "blur", 0.4)
ALL = [Q1, Q2, Q3, Q4]


def test_recall_at_k_counts_positive_queries_only() -> None:
    assert recall_at_k(ALL, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ALL, 2) == pytest.approx(2 / 3)
    assert recall_at_k([Q3], 1) == 0.0


def test_micro_ap_by_hand() -> None:
    # pooled: e .95 wrong, a .9 right, d .8 wrong, c .6 right, b .5 wrong; 3 positive queries
    assert micro_average_precision(ALL) == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_negative_answer_outranking_a_positive_costs_ap() -> None:
    without_negative = [Q1, Q2, Q4]
    # pooled: a .9 right, d .8 wrong, c .6 right, b .5 wrong
    assert micro_average_precision(without_negative) == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert micro_average_precision(ALL) < micro_average_precision(without_negative)


def test_ties_are_broken_pessimistically() -> None:
    right = outcome("q1", "a", [("a", 0.5)])
    wrong = outcome("q2", None, [("x", 0.5)])
    assert micro_average_precision([right, wrong]) == pytest.approx(0.5)


def test_a_query_adds_at_most_one_true_positive() -> None:
    both = QueryOutcome("q", frozenset({"a", "b"}), (("a", 0.9), ("b", 0.8)))
    assert micro_average_precision([both]) == pytest.approx(1.0)
    repeated = outcome("q", "a", [("a", 0.9), ("a", 0.3)])
    assert micro_average_precision([repeated]) == pytest.approx(1.0)


def test_recall_at_precision_by_hand() -> None:
    # cumulative precision by threshold: .95 0/1, .9 1/2, .8 1/3, .6 2/4, .5 2/5
    none = recall_at_precision(ALL, 0.9)
    assert none.threshold is None and none.recall == 0.0
    half = recall_at_precision(ALL, 0.5)
    assert half.threshold == pytest.approx(0.6)
    assert half.recall == pytest.approx(2 / 3) and half.precision == pytest.approx(0.5)
    clean = recall_at_precision([Q1, Q2], 0.9)
    assert clean.threshold == pytest.approx(0.9) and clean.recall == pytest.approx(0.5)


def test_reliability_table_and_calibration_error() -> None:
    outcomes = [
        outcome("q1", "a", [("a", 0.05), ("b", 0.15)]),
        outcome("q2", "c", [("c", 0.95), ("d", 0.97)]),
        outcome("q3", "e", [("e", 1.0)]),
    ]
    table = reliability_table(outcomes, bins=10)
    assert len(table) == 10 and sum(b.count for b in table) == 5
    assert (table[0].count, table[0].precision) == (1, 1.0)
    assert (table[1].count, table[1].precision) == (1, 0.0)
    assert table[9].count == 3 and table[9].precision == pytest.approx(2 / 3)
    assert table[9].mean_confidence == pytest.approx((0.95 + 0.97 + 1.0) / 3)
    assert table[5].count == 0 and table[5].precision is None
    gaps = 1 * 0.95 + 1 * 0.15 + 3 * abs(2 / 3 - (0.95 + 0.97 + 1.0) / 3)
    assert expected_calibration_error(table) == pytest.approx(gaps / 5)
    top = reliability_table(outcomes, bins=10, top_only=True)
    assert sum(b.count for b in top) == 3
    assert "observed precision" in reliability_markdown(table)


def test_latency_percentiles() -> None:
    result = latency([0.1, 0.2, None, 0.3, 0.4])
    assert result.n == 4
    assert result.p50_s == pytest.approx(0.25) and result.p95_s == pytest.approx(0.385)
    assert latency([]).p50_s is None


def test_evaluate_report_per_family_and_rendering() -> None:
    report = evaluate(ALL, ks=(1, 2))
    assert report.overall.n_queries == 4 and report.overall.n_negative == 1
    assert report.overall.recall(2) == pytest.approx(2 / 3)
    families = dict(report.families)
    assert set(families) == {"blur", "crop"}
    assert families["crop"].micro_ap == pytest.approx((1 + 2 / 3) / 2)
    assert families["blur"].micro_ap == 0.0 and families["blur"].n_positive == 1
    assert report.overall.latency.p50_s == pytest.approx(0.25)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["overall"]["recall_at"]["1"] == pytest.approx(1 / 3)
    table = report_markdown(report)
    assert table.count("\n") == 2 + 1 + 2  # header, rule, overall, two families
    assert "R@1" in table and "µAP" in table and "| crop |" in table
    assert report.overall.cost_ratio is None and "decoding and embedding" not in table


def test_a_family_of_negatives_only_shows_no_recall() -> None:
    lone = outcome("q5", None, [("g", 0.2)], "unknown", 0.1)
    row = next(r for r in report_markdown(evaluate([*ALL, lone])).splitlines() if "unknown" in r)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:4] == ["1", "0", "1"] and cells[4:8] == ["–"] * 4


def test_cost_ratio_is_search_p50_over_decode_and_embed_p50() -> None:
    timed = [
        QueryOutcome(f"q{i}", frozenset({"a"}), (("a", 0.9),), "crop", search, alone)
        for i, (search, alone) in enumerate([(0.03, 0.01), (0.05, 0.02), (0.04, 0.01)])
    ]
    overall = evaluate(timed).overall
    assert overall.baseline.n == 3 and overall.baseline.p50_s == pytest.approx(0.01)
    assert overall.cost_ratio == pytest.approx(0.04 / 0.01)
    assert json.loads(json.dumps(overall.as_dict()))["cost_ratio"] == pytest.approx(4.0)
    assert "4.00× decoding and embedding" in report_markdown(evaluate(timed))


# ---------------------------------------------------------------- properties

ids = st.sampled_from("abcdef")
outcomes_strategy = st.lists(
    st.builds(
        outcome,
        query=st.text("qrs", min_size=1, max_size=3),
        expected=st.none() | ids,
        ranked=st.lists(st.tuples(ids, st.floats(0.0, 1.0)), max_size=5),
    ),
    max_size=8,
    unique_by=lambda o: o.query,
)


@given(outcomes_strategy)
def test_property_scores_are_bounded(outcomes: list[QueryOutcome]) -> None:
    assert 0.0 <= micro_average_precision(outcomes) <= 1.0
    point = recall_at_precision(outcomes, 0.9)
    assert 0.0 <= point.recall <= 1.0
    if point.threshold is not None:
        assert point.precision >= 0.9
    recalls = [recall_at_k(outcomes, k) for k in (1, 2, 3, 5)]
    assert recalls == sorted(recalls)


@given(outcomes_strategy)
def test_property_quiet_negatives_do_not_change_ap(outcomes: list[QueryOutcome]) -> None:
    quiet = outcome("negative", None, [("z", -1.0)])
    assert micro_average_precision([*outcomes, quiet]) == pytest.approx(
        micro_average_precision(outcomes)
    )
