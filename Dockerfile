# syntax=docker/dockerfile:1
# The Ticketing API as a container: slim Python, the service's own virtualenv, no compilers,
# no embedded database binaries (PostgreSQL and Redis are given by URL), an unprivileged user.

# --- build: a virtualenv holding the service and its runtime dependencies ---------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/ticketing
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
# `.` without extras: the embedded PostgreSQL/Valkey wheels are the `embedded` extra only.
RUN /opt/ticketing/bin/pip install . \
    && /opt/ticketing/bin/pip uninstall --yes pip setuptools wheel

# --- run ----------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="Ticketing API" \
      org.opencontainers.image.description="Event ticketing: holds and reservations that never sell a seat twice" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/ticketing/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKETING_HOST=0.0.0.0 \
    TICKETING_PORT=3000 \
    TICKETING_WORKERS=2 \
    TICKETING_MIGRATE_ON_START=false \
    TICKETING_DATA_DIR=/tmp/ticketing
RUN groupadd --system --gid 10001 ticketing \
    && useradd --system --uid 10001 --gid ticketing --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin ticketing
COPY --from=build /opt/ticketing /opt/ticketing
USER 10001:10001
EXPOSE 3000
# Ready means PostgreSQL and Redis both answer (GET /health/ready).
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
    CMD ["ticketing", "check", "--ready"]
# Granian stops taking connections on SIGTERM, ends open streams and finishes what is in
# flight (TICKETING_SHUTDOWN_TIMEOUT); give it that long (stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["ticketing"]
CMD ["serve"]
