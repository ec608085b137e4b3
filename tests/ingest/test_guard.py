"""The SSRF guard: only public addresses, unless a host is listed in allow_hosts."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pictrace.errors import BadURL, BlockedURL
from pictrace.ingest.guard import Guard, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("100.64.0.1", "non-public"),
        ("fc00::1", "private"),
    ],
)
def test_private_and_special_addresses_are_refused(address, reason):
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2002:808:808::1"]
)
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


@given(
    st.ip_addresses(network="10.0.0.0/8")
    | st.ip_addresses(network="127.0.0.0/8")
    | st.ip_addresses(network="169.254.0.0/16")
    | st.ip_addresses(network="fe80::/10")
)
def test_every_address_of_a_private_network_is_refused(address):
    assert refusal(address) is not None


@given(st.ip_addresses(network="10.20.0.0/16"))
def test_an_allowed_network_exempts_exactly_its_addresses(address):
    guard = Guard(["10.20.0.0/16"])
    guard.check_address("intranet", address)
    with pytest.raises(BlockedURL):
        guard.check_address("intranet", ipaddress.ip_address("10.21.0.1"))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/a.jpg",
        "file:///etc/passwd",
        "gopher://x/",
        "http:///nohost",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "http://-bad-.org/",
        "http://127.0.0.1/",
        "http://[::1]:8080/",
        "http://10.0.0.1/a.jpg",
    ],
)
def test_bad_urls_are_refused_before_any_request(url):
    malformed = url.startswith("http") and any(p in url for p in ("///", "99999", " ", "-bad-"))
    with pytest.raises(BadURL if malformed else BlockedURL):  # malformed, or not allowed
        Guard().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@example.org/a.jpg",
        "https://secret@example.org/a.jpg",
        "http://u:secret@/a.jpg",  # and no host
        "ftp://u:secret@example.org/a",  # and another scheme
        "http://u:secret@[::1/a",  # and unparsable
    ],
)
def test_urls_with_credentials_are_refused_without_showing_them(url):
    with pytest.raises((BlockedURL, BadURL)) as refused:
        Guard().check_url(url)
    assert "secret" not in refused.value.message
    assert refused.value.message.startswith(("http", "ftp"))


def test_a_crawl_reports_a_failed_url_without_its_credentials():
    from pictrace.ingest.crawl import CrawlLimits, crawl_many
    from pictrace.ingest.web import Fetcher
    from pictrace.settings import load_settings
    from pictrace.types import AddFailure

    items: list = []

    async def emit(item) -> None:
        items.append(item)

    async def run() -> None:
        async with Fetcher(load_settings()) as fetcher:
            await crawl_many(
                fetcher, ["http://user:secret@example.org/a.jpg"], CrawlLimits(0), emit
            )

    asyncio.run(run())
    (failure,) = items
    assert isinstance(failure, AddFailure) and "secret" not in failure.source + failure.reason


def test_allowed_host_names_and_addresses():
    guard = Guard(["127.0.0.1", "Intranet.Example."])
    assert guard.check_url("http://127.0.0.1:8000/x") == "127.0.0.1"
    guard.check_address("intranet.example", ipaddress.ip_address("10.9.9.9"))
    with pytest.raises(BlockedURL):
        guard.check_address("other.example", ipaddress.ip_address("10.9.9.9"))


def test_names_are_checked_after_dns_resolution():
    """``localhost`` is a name, not an address: the check happens on what it resolves to."""
    assert Guard().check_url("http://localhost:8000/") == "localhost"
    with pytest.raises(BlockedURL, match=r"resolves to 127\.0\.0\.1"):
        asyncio.run(Guard().resolve("localhost", 8000))
    assert asyncio.run(Guard(["127.0.0.1"]).resolve("localhost", 8000)) == ["127.0.0.1"]


def test_a_refused_address_in_a_url_names_the_url():
    named = r"^http://127\.0\.0\.1:9/a\.jpg: 127\.0\.0\.1 is a loopback"
    with pytest.raises(BlockedURL, match=named):
        Guard([]).check_url("http://127.0.0.1:9/a.jpg")
