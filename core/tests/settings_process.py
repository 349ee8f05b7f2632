"""Settings modules imported in a fresh interpreter, for tests of what a
settings module does at import (refusing to start, enabling features)."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def import_settings(program: str, *, unset, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``program`` (Python that imports a settings module and prints
    something) with the machine's environment less the variables ``unset``
    names (a name or a predicate on names), plus ``env``."""
    drop = unset if callable(unset) else set(unset).__contains__
    base = {key: value for key, value in os.environ.items() if not drop(key)}
    return subprocess.run(  # noqa: S603 (this interpreter, a constant program)
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
