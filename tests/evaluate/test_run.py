"""``pictrace eval``'s bookkeeping: what counts as the expected image, queries on several
rows, lists saved by spreadsheets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pictrace.evaluate import QueryCase, load_cases, run_cases
from pictrace.evaluate.run import names
from pictrace.types import Match, SearchResult


@pytest.mark.parametrize(
    ("expected", "source", "named"),
    [
        ("coffee", "/lib/coffee.jpg", True),  # a file name without its extension
        ("coffee.jpg", "/lib/coffee.jpg", True),
        ("coffee.jpg", "/lib/coffee.png", False),  # the extension given counts
        ("a/img", "/lib/b/img.jpg", False),  # so does the folder given
        ("a/img", "/lib/a/img.jpg", True),
        ("photos/coffee.jpg", "photos/coffee.jpg", True),
        ("https://example.org/x.jpg?w=2", "https://example.org/x.jpg?w=2", True),
        ("2020.01.05", "/lib/2020.01.05.jpg", True),  # dots, but no image extension
        ("./photos/x.jpg", "photos/x.jpg", True),
        ("photos/x.jpg", "./photos/x.jpg", True),
    ],
)
def test_an_expected_name_names_a_source_as_far_as_it_says(expected, source, named):
    assert names(expected, source) is named


def _results(*sources: str):
    matches = tuple(
        Match(i, source, "copy", 0.9 - 0.1 * i, 0.9, 10, 10, "JPEG", 100)
        for i, source in enumerate(sources)
    )
    return lambda query: SearchResult(str(query), 1.0, matches)


def test_a_query_on_two_rows_finds_either_and_a_namesake_is_no_match():
    """Two right answers (two rows) at ranks 1 and 2: a perfect search; ``a/img`` wanted,
    ``b/img`` first: the right one at rank 2."""
    both = [QueryCase(Path("q.jpg"), "x", "f"), QueryCase(Path("q.jpg"), "y", "f")]
    run = run_cases(both, _results("/lib/x.jpg", "/lib/y.jpg"))
    assert len(run.outcomes) == 1 and run.report.overall.recall(1) == 1.0
    assert run.report.overall.micro_ap == pytest.approx(1.0)
    namesake = [QueryCase(Path("q.jpg"), "a/img", "f")]
    run = run_cases(namesake, _results("/lib/b/img.jpg", "/lib/a/img.jpg"))
    assert run.report.overall.recall(1) == 0.0 and run.report.overall.recall(10) == 1.0


def test_a_list_saved_with_a_byte_order_mark_is_read(tmp_path):
    listed = tmp_path / "queries.csv"
    listed.write_text("\ufeffquery,expected,family\nq.jpg,coffee,crop\n", encoding="utf-8")
    (case,) = load_cases(listed)
    assert case.expected == "coffee" and case.family == "crop"


def test_a_family_of_negatives_only_has_no_recall_in_json_either():
    cases = [QueryCase(Path("q.jpg"), "x", "crop"), QueryCase(Path("n.jpg"), None, "none")]
    data = run_cases(cases, _results("/lib/x.jpg")).report.as_dict()
    family = data["families"]["none"]
    assert family["recall_at"] == {"1": None, "10": None} and family["micro_ap"] is None
    assert data["overall"]["recall_at"]["1"] == 1.0  # over the positives


def test_eval_reports_recall_at_as_many_results_as_it_asked_for(run, built_index, photos):
    listed = built_index.parent / "few.csv"
    listed.write_text(f"query,expected\n{photos / 'coffee.jpg'},coffee\n", encoding="utf-8")
    code, out, _ = run("--index", str(built_index), "eval", str(listed), "-k", "5", "--no-cost")
    assert code == 0 and "R@5" in out and "R@10" not in out
