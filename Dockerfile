# Dockerfile: multi-stage build on Debian bookworm; the runtime image holds only the binary
# and the shared libraries it links, and runs as a non-root user.
FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        g++ cmake ninja-build libpq-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev \
        libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libre2-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY cmd cmd
COPY pipeline pipeline
COPY tests tests
COPY bench bench
RUN cmake --preset release && cmake --build --preset release \
    && strip build/release/cmd/orders-pipeline

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpq5 libssl3 libcurl4 libfmt9 libspdlog1.10 libyaml-cpp0.7 libre2-9 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin pipeline \
    && mkdir -p /data/checkpoints /data/dlq \
    && chown -R pipeline:pipeline /data
COPY --from=build /src/build/release/cmd/orders-pipeline /usr/local/bin/orders-pipeline
USER pipeline
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/orders-pipeline"]
CMD ["run"]
