"""robots.txt rules as RFC 9309 defines them: a pure parser and matcher, no I/O.

- A group starts with one or more ``user-agent`` lines; its ``allow``/``disallow`` rules follow.
  Every group naming our product token (case-insensitively) applies, merged; with none, the
  ``*`` groups apply; with neither, everything is allowed.
- The rule with the longest pattern that matches the URL's path and query decides; on a tie,
  ``allow`` wins. ``*`` matches any run of characters and a final ``$`` anchors the end.
- Paths and patterns are compared with the same percent-encoding; ``/robots.txt`` itself is
  always allowed. Other lines (``sitemap``, ``crawl-delay``, unknown keys) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

_TOKEN = re.compile(r"[A-Za-z_-]+")
_SAFE = "/:@!$&'()*+,;=?~-._"  # kept as they are when a path is re-encoded


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str  # percent-encoded the way paths are, "*" and a final "$" meaning what they mean

    def matches(self, path: str) -> bool:
        return _compiled(self.pattern).match(path) is not None


@dataclass(frozen=True)
class RobotRules:
    rules: tuple[Rule, ...] = ()

    def allows(self, url: str) -> bool:
        path = _url_path(url)
        if path == "/robots.txt":
            return True
        best: Rule | None = None
        for rule in self.rules:
            if not rule.matches(path):
                continue
            if best is None or (len(rule.pattern), rule.allow) > (len(best.pattern), best.allow):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotRules()
DISALLOW_ALL = RobotRules((Rule(allow=False, pattern="/"),))


def parse(text: str, product: str) -> RobotRules:
    """The rules in ``text`` that apply to a crawler whose product token is ``product``."""
    groups: list[tuple[list[str], list[Rule]]] = []
    in_agents = False
    for key, value in _lines(text):
        if key == "user-agent":
            if not in_agents:
                groups.append(([], []))
            groups[-1][0].append(_agent(value))
            in_agents = True
        elif key in ("allow", "disallow"):
            in_agents = False
            if groups and value:  # rules before any group, and empty patterns, mean nothing
                groups[-1][1].append(Rule(allow=key == "allow", pattern=_normal(value)))
    wanted = product.lower()
    for agent in (wanted, "*"):
        chosen = [rule for agents, rules in groups if agent in agents for rule in rules]
        if chosen or any(agent in agents for agents, _ in groups):
            return RobotRules(tuple(chosen))
    return ALLOW_ALL


def _lines(text: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.split("#", 1)[0]
        key, colon, value = line.partition(":")
        if colon:
            pairs.append((key.strip().lower(), value.strip()))
    return pairs


def _agent(value: str) -> str:
    if value.strip() == "*":
        return "*"
    token = _TOKEN.match(value.strip())
    return token.group(0).lower() if token else ""


def _normal(text: str) -> str:
    """``text`` with every octet percent-encoded one way (upper-case hex, unreserved left)."""
    return quote(unquote(text), safe=_SAFE)


def _url_path(url: str) -> str:
    parts = urlsplit(url)
    path = _normal(parts.path or "/")
    return f"{path}?{_normal(parts.query)}" if parts.query else path


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = ".*".join(re.escape(part) for part in (pattern[:-1] if anchored else pattern).split("*"))
    return re.compile(body + ("$" if anchored else ""), re.DOTALL)
