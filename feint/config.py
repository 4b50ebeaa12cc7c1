"""Where feint keeps its data: models it trained, the store, artifacts."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["feint_home"]


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
