"""The SSRF guard: downloads may only reach public internet addresses.

A URL is checked twice. ``Guard.check_url`` refuses bad schemes and literal private addresses
before any request (a clear, early message). ``GuardedBackend`` is the network backend of the
shared HTTP client: it resolves every host name itself, refuses the connection if any address
is loopback, private, link-local, multicast or otherwise not global, and connects to the very
address it checked, so DNS rebinding cannot slip past. Every redirect hop opens its connection
through the same backend.

``allow_hosts`` (settings) exempts host names (``intranet.example``), addresses (``127.0.0.1``)
or networks (``10.0.0.0/8``): tests and intranets relax the guard for exactly what they list.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from pictrace.errors import BadURL, BlockedURL
from pictrace.hosts import valid_name

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


def refusal(address: Address) -> str | None:
    """Why ``address`` must not be contacted, or None when it is a public address. An IPv6
    address that carries an IPv4 one (mapped, 6to4, or NAT64's well-known prefix: a relay or
    gateway would deliver to that IPv4 address) is judged by it."""
    if isinstance(address, ipaddress.IPv6Address):
        address = _embedded(address) or address
    for name, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return name
    return None if address.is_global else "non-public"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class Guard:
    """The address policy plus its exemptions."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[Network] = []
        for entry in allow_hosts:
            text = entry.strip().lower().strip("[]")
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self.names.add(text.rstrip("."))

    def exempt_name(self, host: str) -> bool:
        return host.lower().strip("[]").rstrip(".") in self.names

    def check_url(self, url: str) -> str:
        """Refuse unusable URLs before any network traffic; returns the host name. Messages
        show the URL without a user name or password."""
        shown = without_credentials(url)
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise BadURL(f"{shown}: not a valid URL") from exc
        if parts.scheme.lower() not in SCHEMES:
            raise BlockedURL(f"{shown}: only http:// and https:// URLs can be fetched")
        if "@" in parts.netloc:
            # it would be kept as the image's source and shown to everyone who searches
            raise BlockedURL(f"{shown}: URLs with a user name or password are refused")
        host = parts.hostname
        if not host:
            raise BadURL(f"{shown}: the URL has no host name")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise BadURL(f"{shown}: the URL has an invalid port") from exc
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            if not valid_name(host):
                raise BadURL(f"{shown}: {host!r} is not a valid host name") from None
            return host
        try:
            self.check_address(host, literal)
        except BlockedURL as exc:
            raise BlockedURL(f"{shown}: {exc.message}") from None
        return host

    def check_address(self, host: str, address: Address) -> None:
        if self.exempt_name(host) or any(address in net for net in self.networks):
            return
        reason = refusal(address)
        if reason:
            where = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
            raise BlockedURL(
                f"{where} a {reason} address; PicTrace only fetches public addresses (list "
                "the host in allow_hosts / PICTRACE_ALLOW_HOSTS to permit it)"
            )

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host`` after checking each one (any refusal refuses the host)."""
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            text = str(sockaddr[0]).split("%", 1)[0]
            self.check_address(host, ipaddress.ip_address(text))
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard accepts."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.guard.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from exc
        last: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedURL("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport over an httpcore pool whose every connection goes through the guard."""

    def __init__(self, guard: Guard, limits: httpx.Limits) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = await self.pool.handle_async_request(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, answer: httpcore.Response) -> None:
        self.answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self.answer.aiter_stream():
                yield chunk

    async def aclose(self) -> None:
        await self.answer.aclose()


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore and httpx name their errors alike: raise the httpx one of the same name."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TimeoutException)(str(exc)) from exc
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
        httpcore.ProxyError,
    ) as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc)) from exc


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#@]*@")


def without_credentials(url: str) -> str:
    """``url`` without the user name and password before its host, if it has any (also
    when the rest of it cannot be parsed): what error messages and failure reports show."""
    return _USERINFO.sub(r"\1//", url, count=1)
