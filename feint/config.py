"""Where feint keeps its data: models it trained, the store, artifacts."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["feint_home", "path_component"]


def feint_home() -> Path:
    """``$FEINT_HOME`` if set, else the per-user data directory; created on first use."""
    env = os.environ.get("FEINT_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        from platformdirs import user_data_path

        home = user_data_path("feint", appauthor=False)
    home.mkdir(parents=True, exist_ok=True)
    return home


def path_component(name: str) -> str:
    """``name`` (a target's, which its declaration chooses) as one file name inside a folder
    of feint's: characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``,
    leading dots go, at most 100 characters, so no name (``../../..``) reaches outside."""
    text = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")[:100]
    return text or "_"
