# syntax=docker/dockerfile:1
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files (admin, Swagger UI / ReDoc from the sidecar package) are
# collected at build time and served by WhiteNoise. The values below exist
# only so the production settings load for this step; they are not kept.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    CPF_ENCRYPTION_KEYS=collectstatic-only CPF_BLIND_INDEX_KEY=collectstatic-only \
    python manage.py collectstatic --no-input -v 0

RUN useradd --system --uid 10001 --home /app app && chown -R app /app
USER app

EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/live', timeout=2)"

CMD ["gunicorn", "--config", "config/gunicorn.py", "config.wsgi:application"]
