# The mendix-build step image: GitHub docker action, GitLab job image, Jenkins agent image.
# Builds on any Debian-like base that has python3 with the venv module.
ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/mendix-build/bin:$PATH

# The runtime venv holds no pip: a throw-away venv's pip installs into it (--python).
# Locked runtime dependencies first (this layer survives code changes): every version
# pinned and every file checked against its hash (requirements.lock, pip-compile
# --generate-hashes), wheels only, nothing the lock does not name.
COPY requirements.lock /tmp/mendix-build/requirements.lock
RUN python3 -m venv --without-pip /opt/mendix-build \
    && python3 -m venv /tmp/pip \
    && /tmp/pip/bin/pip --python /opt/mendix-build/bin/python install \
        --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/mendix-build/requirements.lock \
    && rm -rf /tmp/pip /tmp/mendix-build

COPY pyproject.toml README.md entrypoint.py /tmp/mendix-build/
COPY ci_step /tmp/mendix-build/ci_step
RUN python3 -m venv /tmp/pip \
    && /tmp/pip/bin/pip --python /opt/mendix-build/bin/python install --no-deps /tmp/mendix-build \
    && install -m 0755 /tmp/mendix-build/entrypoint.py /opt/mendix-build/entrypoint.py \
    && rm -rf /tmp/pip /tmp/mendix-build

# No USER: GitHub runs docker actions as root; Jenkins passes its own uid with -u,
# and nothing here needs a writable HOME.
ENTRYPOINT ["/opt/mendix-build/bin/python", "/opt/mendix-build/entrypoint.py"]
