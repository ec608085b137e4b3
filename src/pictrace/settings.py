"""One typed settings object, read from ``PICTRACE_*`` environment variables and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pictrace.errors import ConfigError


class Settings(BaseSettings):
    """Everything tunable. CLI options mirror these fields; nothing reads env vars elsewhere."""

    model_config = SettingsConfigDict(env_prefix="PICTRACE_", frozen=True, extra="forbid")

    index: Path | None = Field(None, description="Index folder (PICTRACE_INDEX).")
    max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Largest accepted image file.")
    max_pixels: int = Field(80_000_000, ge=1, description="Decompression-bomb guard.")
    work_size: int = Field(1024, ge=64, description="Long side of the working copy.")
    batch_size: int = Field(16, ge=1, description="Images per CNN batch while adding.")
    threads: int = Field(0, ge=0, description="Inference threads (0 = all cores).")
    candidates: int = Field(64, ge=1, description="Embedding neighbours considered per query.")
    hash_radius: int = Field(12, ge=0, le=64, description="Hamming radius for hash candidates.")
    verify_top: int = Field(12, ge=0, description="Candidates geometrically verified per query.")
    copy_threshold: float = Field(0.5, ge=0.0, le=1.0, description="copy_confidence for 'copy'.")
    hnsw_threshold: int = Field(200_000, ge=1, description="Embeddings count past which HNSW.")
    extra_models: tuple[Path, ...] = Field((), description="Configs of extra ONNX models.")
    allow_hosts: tuple[str, ...] = Field((), description="Hosts exempt from the SSRF guard.")
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds per URL fetch.")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (``None`` values ignored)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
