"""Registry of extractor factories; built-ins register exactly as a plugin would."""

from __future__ import annotations

from collections.abc import Callable

from pictrace.features.base import Extractor, FeatureSpec
from pictrace.settings import Settings

Factory = Callable[[Settings], Extractor]
_FACTORIES: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("phash")`` over a ``(settings) -> Extractor`` factory."""

    def decorator(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return decorator


def registered() -> tuple[str, ...]:
    _load_builtins()
    return tuple(_FACTORIES)


def build_extractors(settings: Settings) -> list[Extractor]:
    """Instantiate every registered extractor plus the user's extra ONNX models."""
    _load_builtins()
    built = {name: factory(settings) for name, factory in _FACTORIES.items()}
    extractors = [e for name, e in built.items() if settings.local_features or name != "keypoints"]
    from pictrace.features.onnx_model import extra_model_extractors

    # no model may take a registered feature's name, in use or not (keypoints)
    extractors.extend(extra_model_extractors(settings, frozenset(all_specs(list(built.values())))))
    return extractors


def all_specs(extractors: list[Extractor]) -> dict[str, FeatureSpec]:
    return {spec.name: spec for extractor in extractors for spec in extractor.specs}


def _load_builtins() -> None:
    # Importing the modules runs their @register decorators.
    from pictrace.features import cnn, colour, hashes, keypoints, thumbnail  # noqa: F401
