"""One typed settings object, read from ``PICTRACE_*`` environment variables and overrides."""

from __future__ import annotations

import difflib
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from pictrace.errors import ConfigError
from pictrace.hosts import allowed_entry_problem
from pictrace.types import KEEPER_POLICY, KeeperRule, contrary_rules, rule_names

log = logging.getLogger("pictrace")
PREFIX = "PICTRACE_"


class Settings(BaseSettings):
    """Everything tunable, each field from its ``PICTRACE_<FIELD>`` environment variable (the
    CLI's ``--index`` and a few serve and duplicates options give some of them too)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    index: Path | None = Field(None, description="Index folder (PICTRACE_INDEX).")
    max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Largest accepted image file.")
    max_pixels: int = Field(80_000_000, ge=1, description="Decompression-bomb guard.")
    work_size: int = Field(1024, ge=64, description="Long side of the working copy.")
    batch_size: int = Field(16, ge=1, description="Images per CNN batch while adding.")
    threads: int = Field(
        0,
        ge=0,
        description="Inference threads of the CNN and extra models (0 = automatic: one "
        "beside a query's keypoints and, for the CNN, for batches while adding; all cores "
        "otherwise).",
    )
    candidates: int = Field(32, ge=1, description="Embedding neighbours considered per query.")
    hash_radius: int = Field(12, ge=0, le=64, description="Hamming radius for hash candidates.")
    local_features: bool = Field(
        True,
        description="Index RootSIFT keypoints (crops, rotations, overlays, evidence). False: "
        "global features only, about twice as fast to index and search, copies found only "
        "through mild edits.",
    )
    verify_top: int = Field(4, ge=0, description="Candidates geometrically verified per query.")
    copy_threshold: float = Field(0.5, ge=0.0, le=1.0, description="copy_confidence for 'copy'.")
    hnsw_threshold: int = Field(200_000, ge=1, description="Embeddings count past which HNSW.")
    extra_models: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="Configs of extra ONNX models (comma-separated or a JSON list)."
    )
    allow_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Hosts or networks exempt from the SSRF guard (comma-separated or a "
        "JSON list).",
    )
    server_names: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Host names the web app answers to besides localhost and IP addresses "
        "(comma-separated or a JSON list): a running server refuses any other Host header, "
        "so that a web page cannot reach it through DNS rebinding. Name the host a reverse "
        "proxy forwards, or the names a server bound to other addresses is reached by.",
    )
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds per URL fetch.")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect to a web server.")
    max_redirects: int = Field(5, ge=0, description="Redirects followed per URL fetch.")
    fetch_concurrency: int = Field(16, ge=1, description="Downloads in flight overall.")
    host_concurrency: int = Field(4, ge=1, description="Downloads in flight per host.")
    user_agent: str = Field("PicTrace/0.1 (reverse image search)", description="HTTP User-Agent.")
    crawl_depth: int = Field(0, ge=0, le=5, description="Same-site link hops a crawl follows.")
    crawl_max_pages: int = Field(50, ge=1, description="Pages fetched per crawl.")
    crawl_max_images: int = Field(500, ge=1, description="Images fetched per crawl.")
    max_upload_bytes: int = Field(
        256 * 1024 * 1024, ge=1, description="Largest bulk-upload request to the web app."
    )
    keeper_policy: Annotated[tuple[KeeperRule, ...], NoDecode] = Field(
        KEEPER_POLICY,
        min_length=1,
        description=(
            "Duplicate keeper rules in order, comma-separated or a JSON list: original (not "
            "judged an edited copy of another member), resolution, lossless, exif, bytes, "
            "oldest, newest."
        ),
    )

    @field_validator("keeper_policy", mode="before")
    @classmethod
    def _rule_list(cls, value: Any) -> Any:
        """``PICTRACE_KEEPER_POLICY=original,resolution`` or ``'["original", "resolution"]'``
        (the rule names themselves are checked as the field's type)."""
        value = _listed(value)
        rules = rule_names(value) if isinstance(value, list | tuple) else value
        if isinstance(rules, list) and (why := contrary_rules(rules)):
            raise ValueError(why)
        return rules

    @field_validator("extra_models", "allow_hosts", "server_names", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """``PICTRACE_ALLOW_HOSTS=a.com,10.0.0.0/8`` or ``'["a.com", "10.0.0.0/8"]'``."""
        return _listed(value)

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """An entry that could never match is a mistake to say at once, not a refusal later."""
        problems = [p for p in map(allowed_entry_problem, value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _listed(value: Any) -> Any:
    """A comma-separated or JSON-list string as a list; anything else as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (``None`` values ignored)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    _tell_misspelt(frozenset(name for name in os.environ if name.upper().startswith(PREFIX)))
    try:
        return Settings(**clean)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {_one_line(exc)}") from exc
    except (SettingsError, ValueError) as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


@lru_cache(maxsize=8)
def _tell_misspelt(names: frozenset[str]) -> None:
    """Warn (once per set of names) of a PICTRACE_ variable that is no setting but close to
    one (a letter missing, two swapped): a misspelt name is otherwise ignored without a word.
    Names are read as pydantic reads them, whatever their case; one that extends a setting's
    name (``PICTRACE_INDEX_OLD``) is a user's own, not a slip."""
    known = [PREFIX + field.upper() for field in Settings.model_fields]
    for name in sorted(n for n in names if n.upper() not in known):
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.85)
        if close and not name.upper().startswith(close[0]):
            log.warning("%s is no PicTrace setting, so it is ignored: %s?", name, close[0])


def _one_line(exc: ValidationError) -> str:
    """Each invalid field once, with pydantic's first complaint about it."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.setdefault(field, f"{field}: {message} (got {error.get('input')!r})")
    return "; ".join(problems.values())
