"""robots.txt read as RFC 9309 says: groups, longest match, wildcards, percent-encoding."""

import pytest

from pictrace.ingest.robotstxt import parse

SITE = "https://shop.test"

MEMBERS = """\
User-agent: *
Disallow: /members/
Allow: /members/public/
Disallow: /*/drafts/
Disallow: /*.psd$
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/members/alice.jpg", False),
        ("/members/public/alice.jpg", True),  # the longer Allow wins wherever it is written
        ("/blog/drafts/new.jpg", False),  # "*" spans any run of characters
        ("/blog/posts/new.jpg", True),
        ("/art/cover.psd", False),  # "$" anchors the end
        ("/art/cover.psd.jpg", True),
        ("/robots.txt", True),
    ],
)
def test_longest_match_and_wildcards(path, allowed):
    assert parse(MEMBERS, "PicTrace").allows(SITE + path) is allowed


def test_the_first_match_does_not_decide_the_longest_does():
    rules = parse("User-agent: *\nAllow: /a\nDisallow: /a/b\n", "PicTrace")
    assert not rules.allows(SITE + "/a/b/c.jpg")
    assert rules.allows(SITE + "/a/c.jpg")


def test_on_a_tie_allow_wins():
    rules = parse("User-agent: *\nDisallow: /x\nAllow: /x\n", "PicTrace")
    assert rules.allows(SITE + "/x.jpg")


def test_our_own_groups_are_merged_and_replace_the_star_group():
    text = """\
User-agent: *
Disallow: /

User-agent: pictrace/2.1
Disallow: /private/
Sitemap: https://shop.test/sitemap.xml

User-agent: Other
User-agent: PICTRACE
Disallow: /tmp/
"""
    rules = parse(text, "PicTrace")
    assert rules.allows(SITE + "/photos/a.jpg")
    assert not rules.allows(SITE + "/private/a.jpg")
    assert not rules.allows(SITE + "/tmp/a.jpg")
    assert not parse(text, "SomeoneElse").allows(SITE + "/photos/a.jpg")


def test_a_group_of_ours_without_rules_allows_everything():
    rules = parse("User-agent: *\nDisallow: /\n\nUser-agent: PicTrace\n", "PicTrace")
    assert rules.allows(SITE + "/a.jpg")


def test_no_group_for_us_or_for_star_allows_everything():
    assert parse("User-agent: Other\nDisallow: /\n", "PicTrace").allows(SITE + "/a.jpg")
    assert parse("Disallow: /\n", "PicTrace").allows(SITE + "/a.jpg")  # outside any group


def test_an_empty_disallow_disallows_nothing():
    assert parse("User-agent: *\nDisallow:\n", "PicTrace").allows(SITE + "/a.jpg")


def test_comments_case_and_a_byte_order_mark():
    text = "\ufeffUSER-AGENT: *  # everyone\nDISALLOW: /Private/ # keep out\n"
    rules = parse(text, "PicTrace")
    assert not rules.allows(SITE + "/Private/a.jpg")
    assert rules.allows(SITE + "/private/a.jpg")  # paths are case-sensitive


def test_the_query_string_is_part_of_the_path():
    rules = parse("User-agent: *\nDisallow: /*?session=\n", "PicTrace")
    assert not rules.allows(SITE + "/img.jpg?session=1")
    assert rules.allows(SITE + "/img.jpg?size=1")


@pytest.mark.parametrize("url", [SITE + "/caf%C3%A9/a.jpg", SITE + "/café/a.jpg"])
def test_percent_encoding_is_compared_one_way(url):
    assert not parse("User-agent: *\nDisallow: /café/\n", "PicTrace").allows(url)
    assert not parse("User-agent: *\nDisallow: /caf%c3%a9/\n", "PicTrace").allows(url)


@pytest.mark.parametrize(
    ("rule", "path", "blocked"),
    [
        ("/file-with-a-%2A.html", "/file-with-a-X.html", False),  # %2A is a literal star
        ("/file-with-a-%2A.html", "/file-with-a-*.html", True),
        ("/price%24", "/price", False),  # %24 is a literal dollar, no end anchor
        ("/price%24", "/price%24", True),
        ("/a/", "/a%2Fb.jpg", False),  # an encoded slash is no slash
        ("/%7Euser/", "/~user/a.jpg", True),  # an encoded unreserved character is itself
    ],
)
def test_reserved_escapes_stay_literal(rule, path, blocked):
    rules = parse(f"User-agent: *\nDisallow: {rule}\n", "PicTrace")
    assert rules.allows(SITE + path) is not blocked


def test_a_pattern_of_many_stars_is_matched_without_backtracking():
    """A regex of this pattern took 44 s on this path (RFC 9309 sites are hostile input)."""
    rules = parse("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*b\n", "PicTrace")
    assert rules.allows(SITE + "/" + "a" * 60)
    assert not rules.allows(SITE + "/" + "a" * 60 + "b")


def test_a_product_token_is_read_as_the_user_agent_line_is():
    rules = parse(
        "User-agent: *\nDisallow: /\n\nUser-agent: pictrace\nDisallow: /x/\n", "PicTrace Bot"
    )
    assert rules.allows(SITE + "/a.jpg") and not rules.allows(SITE + "/x/a.jpg")


def test_a_literal_dollar_in_a_path_is_its_escape():
    rules = parse("User-agent: *\nDisallow: /foo-%24\nDisallow: /bar$x\n", "PicTrace")
    assert not rules.allows(SITE + "/foo-$") and not rules.allows(SITE + "/bar%24x")


def test_a_host_pictrace_refuses_fails_its_urls_as_refused_not_as_robots_disallowed():
    import asyncio

    from pictrace.errors import BlockedURL, FetchError
    from pictrace.ingest.robots import Robots

    class Getter:
        async def robots_txt(self, url: str, max_bytes: int) -> tuple[int, bytes]:
            if "127.0.0.2" in url:
                raise BlockedURL(f"{url}: 127.0.0.2 is a loopback address")
            raise FetchError(f"{url}: connection refused")

    robots = Robots(Getter(), "PicTrace/1")
    blocked = asyncio.run(robots.refusal("http://127.0.0.2:8000/x.png", "this image"))
    assert blocked == (
        "http://127.0.0.2:8000/x.png: 127.0.0.2 is a loopback address",
        "blocked_url",
    )
    offline = asyncio.run(robots.refusal("http://example.org/x.png", "this image"))
    assert offline is not None and offline[1] == "fetch_failed"
