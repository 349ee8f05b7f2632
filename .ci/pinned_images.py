"""Fail when a base image (compose files' services, Dockerfile stages) is not pinned to a version."""

import re
import sys
from pathlib import Path

from compose import load

ROOT = Path(__file__).resolve().parent.parent
# The stack and its override for several api containers (docs/operations.md).
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.scale.yml")
OWN_IMAGE = "reseller-cashback:"
# A version number (postgres:16.9-alpine) or a dated release (debian:bookworm-20250520-slim).
PINNED = re.compile(r":(?:[^:]*\d+\.\d+|[a-z]+-\d{8})")


def main() -> int:
    services = [service for name in COMPOSE_FILES for service in load(ROOT / name)["services"].values()]
    compose = [service["image"] for service in services if "image" in service]
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", dockerfile, flags=re.MULTILINE))
    froms = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    bases = [image for image in froms if image not in stages]
    images = sorted({*compose, *bases} - {image for image in compose if image.startswith(OWN_IMAGE)})
    floating = [image for image in images if not PINNED.search(image)]
    if floating:
        sys.stderr.write(f"images not pinned to a version: {', '.join(floating)}\n")
        return 1
    sys.stdout.write(f"pinned: {', '.join(images)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
