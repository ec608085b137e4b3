"""robots.txt rules as RFC 9309 defines them: a pure parser and matcher, no I/O.

- A group starts with one or more ``user-agent`` lines; its ``allow``/``disallow`` rules follow.
  Every group naming our product token (case-insensitively) applies, merged; with none, the
  ``*`` groups apply; with neither, everything is allowed.
- The rule with the longest pattern that matches the URL's path and query decides; on a tie,
  ``allow`` wins. ``*`` matches any run of characters and a final ``$`` anchors the end.
- Paths and patterns are compared with one percent-encoding: an encoded unreserved character
  is decoded, anything else stays (or is made) encoded, so ``%2A`` is a literal ``*`` and
  ``%2F`` is no ``/``. ``/robots.txt`` itself is always allowed. Other lines (``sitemap``,
  ``crawl-delay``, unknown keys) are ignored.
- Matching takes no regular expressions: a site's patterns are fitted piece by piece with
  ``str.find``, so no pattern of stars can make it backtrack for long (a regex of
  ``/*a*a*a*a*a*a*a*b`` took 44 s on a path of 60 ``a``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import urlsplit

_TOKEN = re.compile(r"[A-Za-z_-]+")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PLAIN = _UNRESERVED | frozenset("/:@!&'()+,;=?%")  # left as they are ("*", "$": encoded)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
WILD, END = "\x00", "\x01"  # a pattern's "*" and final "$" (a path never holds either)


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str  # encoded as paths are (``_normal``), WILD for "*", END for a final "$"

    def matches(self, path: str) -> bool:
        """Whether the pattern matches the start of ``path`` (all of it with END): its pieces
        between wildcards are found in order, each as early as it can be (the earliest
        place leaves the most room for the rest, so no other choice can succeed instead)."""
        anchored = self.pattern.endswith(END)
        pieces = self.pattern.removesuffix(END).split(WILD)
        if not path.startswith(pieces[0]):
            return False
        at = len(pieces[0])
        for piece in pieces[1:-1]:
            found = path.find(piece, at)
            if found < 0:
                return False
            at = found + len(piece)
        if len(pieces) == 1:
            return not anchored or at == len(path)
        last = pieces[-1]
        if anchored:
            return path.endswith(last) and len(path) - len(last) >= at
        return path.find(last, at) >= 0


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
                groups[-1][1].append(Rule(allow=key == "allow", pattern=_pattern(value)))
    wanted = _agent(product)
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


def _pattern(value: str) -> str:
    """A rule's path pattern as ``Rule`` keeps it: encoded as paths are, its ``*`` and a
    final ``$`` turned into WILD and END (an encoded ``%2A`` or ``%24`` stays literal)."""
    anchored = value.endswith("$")
    body = value[:-1] if anchored else value
    return WILD.join(_normal(piece) for piece in body.split("*")) + (END if anchored else "")


def _normal(text: str) -> str:
    """``text`` percent-encoded one way: an encoded unreserved character decoded, other
    escapes upper-cased, and every character a path may not hold as it is (a space, a
    non-ASCII letter's UTF-8 bytes, a ``*`` in a URL) encoded."""
    text = _ESCAPE.sub(_unescaped, text)
    return "".join(c if c in _PLAIN else _encoded(c) for c in text)


def _unescaped(escape: re.Match[str]) -> str:
    char = chr(int(escape.group(1), 16))
    return char if char in _UNRESERVED else "%" + escape.group(1).upper()


def _encoded(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _url_path(url: str) -> str:
    parts = urlsplit(url)
    path = _normal(parts.path or "/")
    return f"{path}?{_normal(parts.query)}" if parts.query else path
