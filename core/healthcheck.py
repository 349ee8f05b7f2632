"""Container healthcheck: ``python -m core.healthcheck [PATH]``.

Exits 0 when the server on 127.0.0.1:$PORT answers PATH (default
``/health/live``; ``/health/ready`` also checks the database, cache and
broker) with 200, 1 otherwise. Standard library only, so a probe costs no
Django start-up. The probes answer whatever the Host header
(core.middleware.HealthCheckMiddleware), so a production ALLOWED_HOSTS does
not fail them.

``python -m core.healthcheck --fresh FILE SECONDS`` is beat's: exits 0 when
FILE (or a file named FILE plus a suffix, as the dbm modules under
``shelve`` name theirs) was written within SECONDS.
"""

import glob
import os
import sys
import time
import urllib.error
import urllib.request

DEFAULT_PATH = "/health/live"


def probe(path: str = DEFAULT_PATH, *, port: str | None = None, timeout: float = 3.0) -> tuple[bool, str]:
    """(healthy, one line saying why) for GET http://127.0.0.1:PORT/PATH."""
    port = port or os.environ.get("PORT", "8000")
    url = f"http://127.0.0.1:{port}/{path.lstrip('/')}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200, f"{response.status} {url}"
    except urllib.error.HTTPError as error:
        return False, f"{error.code} {url}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"{url}: {error}"


def fresh(path: str, seconds: float) -> tuple[bool, str]:
    """(healthy, why) for a file that must have been written within ``seconds``."""
    written = [os.path.getmtime(name) for name in glob.glob(glob.escape(path) + "*")]
    if not written:
        return False, f"{path}: no such file"
    age = time.time() - max(written)
    return age <= seconds, f"{path}: written {age:.0f} s ago (at most {seconds:.0f})"


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--fresh":
        healthy, line = fresh(argv[2], float(argv[3]))
    else:
        healthy, line = probe(argv[1] if len(argv) > 1 else DEFAULT_PATH)
    # Docker and podman keep the probe's output in the container's health log.
    sys.stdout.write(line + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
