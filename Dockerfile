# syntax=docker/dockerfile:1
# One image for the driftstream engine, the KServe inference logger and the Dask scheduler and
# workers (the Helm chart and engine.k8s use it for all of them).
#   docker build -t ghcr.io/driftstream/driftstream:0.1.0 .
# Runs as uid 10001 with a read-only root filesystem: mount a writable /tmp (the chart does).

ARG PYTHON_VERSION=3.11

# ---- builder: build the wheel and install it, with its dependencies, into /opt/venv ---------
FROM python:${PYTHON_VERSION}-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine/ engine/
COPY streams/ streams/
COPY detectors/ detectors/
RUN pip install --upgrade pip build \
 && python -m build --wheel --outdir /dist . \
 && pip install /dist/driftstream-*.whl "dask-kubernetes==2026.3.0" "confluent-kafka>=2.3" \
 && pip uninstall -y build \
 && python -m compileall -q /opt/venv \
 && driftstream --help >/dev/null \
 && dask worker --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="driftstream" \
      org.opencontainers.image.description="Streaming monitoring for ML models: engine, inference logger, Dask workers" \
      org.opencontainers.image.source="https://github.com/driftstream/driftstream" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 driftstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin driftstream \
 && install -d -o 10001 -g 10001 /var/lib/driftstream /etc/driftstream
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    DASK_TEMPORARY_DIRECTORY=/tmp
WORKDIR /var/lib/driftstream
# numeric uid so Kubernetes can verify runAsNonRoot
USER 10001:10001
EXPOSE 5006 9108 8080 8786 8787 8788
ENTRYPOINT []
CMD ["driftstream", "--help"]
