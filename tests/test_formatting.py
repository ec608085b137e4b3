"""How numbers are shown to people."""

import pytest

from pictrace.formatting import label_name, percent


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
