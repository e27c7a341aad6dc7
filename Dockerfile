FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY config ./config
COPY routing ./routing
COPY experiments ./experiments
COPY analytics ./analytics
COPY devtools ./devtools
COPY templates ./templates
COPY manage.py ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu '.[semantic]' && SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
    python manage.py collectstatic --noinput

RUN useradd --create-home routelab && mkdir -p /app/var/spool && chown -R routelab /app/var
USER routelab
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
