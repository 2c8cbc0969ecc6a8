# syntax=docker/dockerfile:1
# Hermes Host: the `hermes-host` binary on a slim Debian, running as a non-root user,
# with the harness and the code tools' programs precompiled into the image, so the
# first start compiles nothing.
#
#   docker build -t hermes-host .
#   docker run -p 8787:8787 -e OPENAI_API_KEY=sk-... -v hermes-data:/data hermes-host
#
# The build steps live in scripts/image/build.sh (runnable without Docker).

FROM rust:1.95-bookworm AS build
# The code tools' CPython is built with componentize-py from PyPI (sandbox/python/build.sh).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# rust-toolchain.toml pins the compiler and the wasm32-wasip2 target; rustup installs both.
RUN rustup show active-toolchain \
 && scripts/image/build.sh /out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hermes \
 && mkdir -p /data /opt/hermes/cache \
 && chown hermes:hermes /data /opt/hermes/cache
COPY --from=build /out/bin/hermes-host /usr/local/bin/hermes-host
COPY --from=build --chown=hermes:hermes /out/cache/ /opt/hermes/cache/
USER hermes
ENV HERMES_DATA_DIR=/data \
    HERMES_CACHE_DIR=/opt/hermes/cache \
    HERMES_LISTEN=0.0.0.0:8787 \
    HERMES_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8787
# tini reaps the sandbox's children and passes SIGTERM on, so a stop drains gracefully.
ENTRYPOINT ["/usr/bin/tini", "--", "hermes-host"]
CMD ["serve"]
