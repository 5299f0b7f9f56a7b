# keelkv image: keelkv-server, redis-cli, and keelkv's tools, run as a non-root user.
#
#   scripts/cluster up          builds it (with the wheelhouse and base images it needs)
#   docker build --force-rm -t keelkv:latest .
#
# Python packages come from build/wheelhouse, made on the host from pyproject.toml by
# scripts/cluster: such builds never reach the package index, so they work where only
# Debian's mirror is reachable (without a wheelhouse, pip uses the index). Works with the
# classic builder (no RUN --mount).
#
# Build arguments:
#   PYTHON_IMAGE   base image of both stages (default python:3.11-slim)
#   KEELKV_NATIVE  1 (default): compile the hot path with mypyc in the build stage, with
#                  gcc from Debian's packages; 0: plain Python
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG KEELKV_NATIVE=1
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# A C compiler (and Python's headers where the base image lacks them) for mypyc.
RUN if [ "$KEELKV_NATIVE" = 1 ]; then \
        pkgs="gcc libc6-dev"; \
        python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || pkgs="$pkgs python3-dev"; \
        apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# Dependencies first, so that source edits do not reinstall them. From the host-built
# wheelhouse, offline, when there is one (`build/wheelhouse*` may match nothing); else
# from the package index, for machines whose containers reach it.
COPY pyproject.toml docker/requirements.py build/wheelhouse* /wheelhouse/
RUN if [ -f /wheelhouse/runtime.txt ]; then \
        export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheelhouse; \
    else \
        python3 /wheelhouse/requirements.py /wheelhouse/pyproject.toml /wheelhouse; \
    fi \
    && python3 -m venv /opt/keelkv/venv \
    && /opt/keelkv/venv/bin/pip install -q -r /wheelhouse/runtime.txt \
    && if [ "$KEELKV_NATIVE" = 1 ]; then \
        python3 -m venv /opt/build-venv \
        && /opt/build-venv/bin/pip install -q -r /wheelhouse/runtime.txt -r /wheelhouse/build.txt; \
    fi

# The compiled modules depend on node/ and persistence/ only, so edits elsewhere (the
# drill in replication/drill, the image's scripts) do not recompile them.
COPY pyproject.toml README.md /opt/keelkv/app/
COPY node /opt/keelkv/app/node
COPY persistence /opt/keelkv/app/persistence
COPY scripts/build-native /opt/keelkv/app/scripts/build-native
RUN if [ "$KEELKV_NATIVE" = 1 ]; then \
        cd /opt/keelkv/app \
        && /opt/build-venv/bin/python scripts/build-native \
        && find build -mindepth 1 -maxdepth 1 ! -name native -exec rm -rf {} +; \
    fi

COPY replication /opt/keelkv/app/replication
COPY docker/entrypoint.sh /opt/keelkv/venv/bin/keelkv-entrypoint
# Editable, as in development: node/_native.py finds the compiled modules in build/native
# beside the sources. Byte-compiled here because the runtime user cannot write there.
RUN if ls /wheelhouse/*.whl >/dev/null 2>&1; then \
        export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheelhouse; \
    fi \
    && cd /opt/keelkv/app \
    && /opt/keelkv/venv/bin/pip install -q --no-deps -e '.[drill]' \
    && /opt/keelkv/venv/bin/python -m compileall -q node persistence replication \
    && /opt/keelkv/venv/bin/keelkv-server --version

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/keelkv/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# redis-cli for users and the healthcheck (the local base image already has it).
RUN if ! command -v redis-cli >/dev/null 2>&1; then \
        apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends redis-tools >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 keelkv \
    && useradd --system --uid 10001 --gid keelkv --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin keelkv \
    && mkdir -p /data /etc/keelkv \
    && chown keelkv:keelkv /data
COPY docker/keelkv.conf /etc/keelkv/keelkv.conf

USER keelkv
WORKDIR /data
VOLUME /data
EXPOSE 6379

# PONG only once the dataset is loaded (-LOADING before). KEELKV_PORT: when started with
# another --port.
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=3 \
    CMD redis-cli -p "${KEELKV_PORT:-6379}" ping | grep -q PONG

ENTRYPOINT ["keelkv-entrypoint"]
CMD ["keelkv-server", "/etc/keelkv/keelkv.conf"]

# Last, so that a source edit only redoes this layer of the final stage.
COPY --from=build /opt/keelkv /opt/keelkv
