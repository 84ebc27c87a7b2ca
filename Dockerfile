# dastbot container image.
#
#   docker build -t dastbot .          podman build --format docker -t dastbot .
#   docker run -d --name dastbot -p 8080:8080 -v dastbot-data:/data \
#     -e DASTBOT_MATTERMOST_URL=https://chat.example.org:443 \
#     -e DASTBOT_MATTERMOST_TOKEN -e DASTBOT_SLASH_TOKEN \
#     -e DASTBOT_HTTP_PUBLIC_URL=http://dastbot.example.org:8080 dastbot
#
# (`--format docker` keeps the HEALTHCHECK under podman; the OCI format has no healthcheck field.)
# Secrets are never baked in: DASTBOT_MATTERMOST_TOKEN and DASTBOT_SLASH_TOKEN come from the
# environment of `run`. The SQLite database lives on the /data volume. Without a configuration
# file the bot uses its embedded defaults (equal to bot.yaml) plus DASTBOT_* variables; to use a
# file, mount it and set DASTBOT_CONFIG, e.g. -v ./bot.yaml:/etc/dastbot/bot.yaml:ro
# -e DASTBOT_CONFIG=/etc/dastbot/bot.yaml. The knowledge base is the copy inside the package
# unless DASTBOT_KB points at a mounted folder.
#
# Pinning. What the image runs is fixed by:
#   * the base: python:3.11-slim-bookworm (Python minor version and Debian release; the same tag
#     exists on Docker Hub and in the local base made by oci-base.sh). Pin a digest
#     (python:3.11-slim-bookworm@sha256:...) where builds must be bit-for-bit repeatable;
#   * the build tools: pip and setuptools at exact versions, project wheel built without build
#     isolation (so no unpinned setuptools is fetched behind our back);
#   * one resolution per build: the build stage resolves dastbot and its dependencies once into
#     wheels (/wheels); the runtime venv is installed from those wheels only (--no-index), and the
#     resolved set is recorded in the image at /opt/dastbot/requirements.installed.txt.
# pyproject.toml holds version ranges, so two builds a month apart can still resolve different
# dependency versions. When a committed `requirements.lock` (pip's hash-checking format, every
# dependency `==` with `--hash`, e.g. from `pip-compile --generate-hashes`) is present in the
# build context it is used instead of the ranges: dependencies are fetched with --require-hashes
# and --no-deps, so the image holds exactly the locked versions or the build fails.

ARG PIP_VERSION=26.3
ARG SETUPTOOLS_VERSION=84.2.1

# ---------------------------------------------------------------- build: wheels and the venv
FROM python:3.11-slim-bookworm AS build
ARG PIP_VERSION
ARG SETUPTOOLS_VERSION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/tools \
 && /opt/tools/bin/pip install --quiet "pip==${PIP_VERSION}" "setuptools==${SETUPTOOLS_VERSION}"

WORKDIR /src
# The context is filtered by .dockerignore (no .git, venvs, databases, tests, caches).
COPY . /src

RUN set -eu; \
    if [ -f requirements.lock ]; then \
        echo "dependencies: requirements.lock (hash-checked)"; \
        /opt/tools/bin/pip wheel --quiet --require-hashes --no-deps -r requirements.lock \
            --wheel-dir /wheels; \
        /opt/tools/bin/pip wheel --quiet --no-deps --no-build-isolation . --wheel-dir /wheels; \
    else \
        echo "dependencies: pyproject.toml ranges (no requirements.lock in the context)"; \
        /opt/tools/bin/pip wheel --quiet --no-build-isolation . --wheel-dir /wheels; \
    fi; \
    python3 -m venv --without-pip /opt/dastbot; \
    /opt/tools/bin/pip --python /opt/dastbot/bin/python install --quiet --no-compile \
        --no-index --find-links /wheels dastbot; \
    /opt/tools/bin/pip --python /opt/dastbot/bin/python freeze --all \
        > /opt/dastbot/requirements.installed.txt; \
    /opt/dastbot/bin/python -m compileall -q /opt/dastbot/lib

# The installed bot checks its embedded configuration from an empty folder (no ./bot.yaml).
WORKDIR /tmp
RUN /opt/dastbot/bin/dastbot check

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim-bookworm

# A fixed, unprivileged uid/gid so the /data volume can be prepared on the host (chown 10001).
RUN groupadd --gid 10001 dastbot \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/dastbot \
        --shell /usr/sbin/nologin dastbot \
 && mkdir -p /data \
 && chown 10001:10001 /data

# The venv only (no pip, no wheels, no sources): same base image, same interpreter path.
COPY --from=build /opt/dastbot /opt/dastbot

ENV PATH=/opt/dastbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DASTBOT_DB=/data/dastbot.db \
    DASTBOT_HTTP_HOST=0.0.0.0

# An empty working directory: no ./bot.yaml or ./knowledge is picked up by accident.
WORKDIR /home/dastbot
VOLUME /data
# The bot's HTTP endpoint (slash commands, buttons, /healthz, /metrics): http.port's default.
EXPOSE 8080

USER 10001:10001

# /healthz is 200 while the websocket is connected and the database writable, 503 otherwise.
# No curl in the slim image: Python's urllib, on the port the bot listens on (DASTBOT_HTTP_PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('DASTBOT_HTTP_PORT', '8080'), timeout=4)"]

# Exec form: dastbot is PID 1 and gets SIGTERM from `docker stop` (it shuts down cleanly).
ENTRYPOINT ["dastbot"]
CMD ["run"]
