# syntax=docker/dockerfile:1
# One image for every role (api, Celery worker and beat, migrate, one-off
# management commands).
# The base is pinned to a dated Debian release; bookworm's own python3 is
# Python 3.11, the project's version. CI builds this same file on a locally
# bootstrapped equivalent of this exact tag (.ci/container).

# --- base: the interpreter and nothing else ----------------------------------
FROM debian:bookworm-20250520-slim AS base

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# --- build: virtualenv, code, static files, bytecode --------------------------
FROM base AS build

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# Only for builds behind a TLS-intercepting proxy: the path of a CA bundle
# mounted into the build (CI does this). Empty means pip's own bundle.
ARG PIP_CERT=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# requirements.txt pins every package, transitive ones included: --no-deps
# installs exactly that set and `pip check` proves it complete. pip itself is
# then removed: nothing is installed at run time.
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --require-virtualenv -r /tmp/requirements.txt \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && chmod -R u=rwX,go=rX /opt/venv

WORKDIR /app
COPY . .

# Static files (admin, Swagger UI / ReDoc from the sidecar package) are
# collected at build time and served by WhiteNoise. The values below exist
# only so the production settings load for this step; they are not kept.
# Bytecode is compiled here because the app user cannot write /app at run time.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost ALLOW_LOCAL_CACHE=true ALLOW_IN_PROCESS_JOBS=true \
    CPF_ENCRYPTION_KEYS=collectstatic-only CPF_BLIND_INDEX_KEY=collectstatic-only \
    PUBLIC_BASE_URL=http://localhost \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    python manage.py collectstatic --no-input -v 0 \
    && python -m compileall -q -j 0 /app \
    && chmod -R u=rwX,go=rX /app

# --- runtime: what runs in production -----------------------------------------
FROM base AS runtime

ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000

# Code, virtualenv and static files belong to root and are read-only to the
# app user: nothing under /app or /opt/venv is writable at run time.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

# The one directory the app user owns: the jobs' files (exports), a volume
# shared by the api and the workers in a real deployment (docker-compose.yml).
ENV JOB_FILES_DIR=/var/lib/cashback/jobs
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/cashback/jobs
USER 10001:10001

EXPOSE 8000

# Liveness by default; `python -m core.healthcheck /health/ready` probes
# readiness (database, cache and broker). The worker and beat containers
# replace it with their own (docker-compose.yml). The probes answer whatever the Host header,
# so a production ALLOWED_HOSTS does not turn them into 400s.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "core.healthcheck"]

CMD ["gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"]
