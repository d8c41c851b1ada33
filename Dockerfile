# syntax=docker/dockerfile:1
# The sentiment pipeline in a container: one image for the API (default command), the scheduler
# (`loop`) and the MLflow tracking server (`tracking-server`); deploy/compose.yaml runs all three.
#   docker build -t sentiment .
#   docker run -v sentiment-workspace:/var/lib/sentiment -p 127.0.0.1:5000:5000 sentiment
# Not built by the tests here (no Docker daemon on these machines): tests/deploy/test_container_files.py
# checks its paths, commands, options, variables and ports.

# ---- builder: the wheel and a virtual environment with it and its pinned dependencies
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements.txt ./
COPY sentiment_lib ./sentiment_lib
# The CPU index: requirements.txt pins torch==2.13.0, which PyPI answers with a CUDA build pulling several GB
# of nvidia-* wheels; download.pytorch.org/whl/cpu has 2.13.0+cpu, which the pin accepts and pip prefers.
# requirements.txt is used as constraints: the runtime dependencies at their pinned versions, without the
# test, notebook-lab and Spark tools it also pins (Spark would need Java, which this image has not).
# [postgres]: psycopg for `tracking-server --backend-store-uri postgresql://...`.
RUN python -m venv /opt/sentiment/venv \
    && pip wheel --no-deps -w /dist . \
    && /opt/sentiment/venv/bin/pip install \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        -c requirements.txt \
        "$(ls /dist/sentiment_lib-*.whl)[postgres]"

# ---- runtime: the same base, the virtual environment only (no compilers, no sources, no pip cache)
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 sentiment \
    && useradd --system --uid 10001 --gid sentiment --home-dir /var/lib/sentiment --shell /usr/sbin/nologin sentiment \
    && mkdir -p /var/lib/sentiment \
    && chown sentiment:sentiment /var/lib/sentiment
COPY --from=builder /opt/sentiment/venv /opt/sentiment/venv
# The workspace: the only folder the services write (mlflow.db, reports/, data/, logs/, ...); HOME there too
# for the caches of wandb, matplotlib and Hugging Face. No model hub is reachable: the encoder is packaged.
ENV SENTIMENT_WORKSPACE=/var/lib/sentiment \
    HOME=/var/lib/sentiment \
    HF_HUB_OFFLINE=1 \
    WANDB_MODE=offline
WORKDIR /var/lib/sentiment
VOLUME ["/var/lib/sentiment"]
USER 10001:10001
EXPOSE 5000
# /health answers 200 only with a model loaded: a fresh workspace stays unhealthy until `sentiment once`
# has trained and promoted one. (slim has no curl: Python's urllib; an HTTP error status raises, exit 1.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["/opt/sentiment/venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
ENTRYPOINT ["/opt/sentiment/venv/bin/sentiment"]
# 0.0.0.0 by necessity: a container's loopback is its own, so the published port or a proxy in another
# container reaches the API only on the container's network address. Publish it to 127.0.0.1 on the host
# (or put nginx in front, as deploy/compose.yaml does), never to the world without a proxy.
CMD ["serve", "--host", "0.0.0.0", "--port", "5000"]
