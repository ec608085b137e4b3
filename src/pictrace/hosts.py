"""Host names and allow-list entries, checked with the standard library alone: settings read
``allow_hosts`` before (and without) the web extra that fetches anything."""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?", re.IGNORECASE)


def valid_name(host: str) -> bool:
    """Whether ``host`` is a well-formed host name (IDNA labels of 1 to 63 characters)."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and _LABEL.fullmatch(label) for label in labels)


def allowed_entry_problem(entry: str) -> str | None:
    """Why ``entry`` of ``allow_hosts`` can never match (None when it is a host name, an
    address or a network): a port, a malformed network, a URL."""
    text = entry.strip().lower().strip("[]")
    try:
        ipaddress.ip_network(text, strict=False)
        return None
    except ValueError:
        pass
    if "/" in text or ":" in text:
        return f"{entry!r} is neither a host name, an address nor a network (no ports or URLs)"
    return None if valid_name(text) else f"{entry!r} is not a valid host name"
