"""Whether an index holds local features (keypoints), kept in its catalogue.

``PICTRACE_LOCAL_FEATURES=false`` makes an index of global features only (faster to build,
no crop or rotation robustness); its copy confidence comes from a calibration fitted without
keypoints. Opened later without the setting, such an index would be searched with the
keypoint calibration and no keypoints to feed it: every edited copy would fall to "similar".
So an index remembers the choice it was made with, and is opened with it unless the setting is
given explicitly: then the index switches (adding its folders again computes what the new
choice needs; until then, images without keypoints are scored as having none).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from pictrace.settings import Settings
from pictrace.store.embedded import CATALOGUE, EmbeddedStore

KEY = "local_features"
log = logging.getLogger("pictrace")


def settled(folder: Path | None, settings: Settings, readonly: bool = False) -> Settings:
    """``settings`` with the index's own choice of local features, unless they give one (an
    index's settings so settled give none: they open another index with its own)."""
    stored = stored_choice(folder) if folder is not None else None
    if stored is None or stored == settings.local_features:
        return settings
    if KEY in settings.model_fields_set:
        who = "this read-only open" if readonly else "from now on it"
        log.warning(
            "index %s was built %s local features; %s %s",
            folder,
            "with" if stored else "without",
            who,
            "uses them (add its folders again to compute them for the images it holds)"
            if settings.local_features
            else "uses none",
        )
        return settings
    own = settings.model_copy(update={KEY: stored})
    own.model_fields_set.discard(KEY)  # the index's, not given
    return own


def stored_choice(folder: Path) -> bool | None:
    """The choice recorded in the catalogue in ``folder``; for one an older release made,
    False when it holds images but no keypoints; else None (no index there yet)."""
    path = folder / CATALOGUE
    if not path.is_file():
        return None
    for opening in ("mode=ro", "mode=ro&immutable=1"):  # the second: a folder nobody may write
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?{opening}", uri=True)
            try:
                return _choice(db)
            finally:
                db.close()
        except sqlite3.Error:
            continue
    return None  # the store says what is wrong when it opens the catalogue


def _choice(db: sqlite3.Connection) -> bool | None:
    rows = db.execute("SELECT value FROM meta WHERE key = ?", (KEY,)).fetchall()
    if rows:
        return bool(rows[0][0] == "1")
    if db.execute("SELECT 1 FROM images LIMIT 1").fetchone() is None:
        return None
    keypoints = "SELECT 1 FROM features WHERE name = 'keypoints' LIMIT 1"
    return False if db.execute(keypoints).fetchone() is None else None


def record_choice(store: object, settings: Settings) -> None:
    """Record the choice an index is opened with (writable embedded indexes)."""
    if isinstance(store, EmbeddedStore) and not store.readonly:
        catalogue = store.catalogue
        value = "1" if settings.local_features else "0"
        if catalogue.get_meta(KEY) != value:
            catalogue.set_meta(KEY, value)
