"""How numbers are shown to people."""

import pytest
from rich.console import Console

from pictrace.formatting import group_lines, label_name, percent, result_table
from pictrace.types import DuplicateGroup, ImageRecord, Match, SearchResult


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (1.0, 0, "100%"),
        (0.9998, 0, ">99%"),
        (0.9998, 1, ">99.9%"),
        (0.927, 1, "92.7%"),
        (0.5, 0, "50%"),
        (0.002, 0, "<1%"),
        (0.0, 0, "0%"),
    ],
)
def test_percentages_never_round_to_certainty(value, digits, shown):
    assert percent(value, digits) == shown


def test_an_imagenet_label_shows_its_first_name():
    assert label_name("sulphur butterfly, sulfur butterfly") == "sulphur butterfly"
    assert label_name("hip, rose hip, rosehip") == "hip"


def test_each_failed_add_names_what_failed_once():
    from pictrace.formatting import add_lines
    from pictrace.types import AddFailure, AddReport

    report = AddReport(
        failed=(
            AddFailure(
                "http://127.0.0.1:8000/page", "the server sent a web page, not an image", "x"
            ),
            AddFailure("bad/x.jpg", "bad/x.jpg: not a readable image", "not_an_image"),
        )
    )
    assert add_lines(report)[1:] == [
        "  failed: http://127.0.0.1:8000/page: the server sent a web page, not an image",
        "  failed: bad/x.jpg: not a readable image",
    ]


def test_a_search_table_shows_no_edited_copy_as_certain():
    edited = Match(1, "copy.jpg", "copy", 0.9996, 0.9996, 10, 10, "JPEG", 100)
    exact = Match(2, "same.jpg", "exact", 1.0, 1.0, 10, 10, "JPEG", 100)
    console = Console(width=120, record=True)
    console.print(result_table(SearchResult("q.jpg", 1.0, (exact, edited))))
    rows = console.export_text().splitlines()
    assert "100.0%" in next(r for r in rows if "same.jpg" in r)
    assert ">99.9%" in next(r for r in rows if "copy.jpg" in r)


def test_a_results_heading_says_at_least_when_every_result_listed_is_a_copy():
    """With as many copies as results asked for, more may be in the index ("20 copies" read
    as all of them); with other pictures listed too, the count is the count."""
    from pictrace.formatting import match_heading
    from pictrace.types import Match

    def listed(*tiers: str) -> list[Match]:
        return [
            Match(i, f"{i}.jpg", tier, 0.9 if tier != "similar" else 0.0, 0.5, 9, 9, "png", 99)
            for i, tier in enumerate(tiers)
        ]

    assert match_heading(listed("copy", "copy", "copy")) == (
        "At least 3 copies",
        "ask for more results to see whether there are others",
    )
    assert match_heading(listed("exact", "copy", "similar")) == ("2 copies", "1 similar picture")
    assert match_heading(listed("copy")) == ("1 copy", "")
    assert match_heading(listed("similar")) == ("No copies", "1 similar picture")


def test_a_duplicate_group_shows_file_sizes_as_list_does():
    """KB and MB, as ``list`` shows them (it printed bytes)."""
    members = (
        ImageRecord(1, "a.png", None, "b1", "p1", 768, 512, "png", 614_179, 0, 0.0),
        ImageRecord(2, "b.jpg", None, "b2", "p2", 1080, 1920, "jpeg", 2_500_000, 0, 0.0),
    )
    lines = group_lines(1, DuplicateGroup(members, 1, reason="original"))
    assert "599.8 KB  a.png" in lines[1] and "2.4 MB  b.jpg" in lines[2]
