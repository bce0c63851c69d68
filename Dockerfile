# One image for every PostgreSQL pod and job of the chart: PostgreSQL 15, Patroni 3.0.2 and
# pgBackRest 2.45 from Debian bookworm (the same packages the tests run, checked by
# test/chart/dockerfile.test.ts), tini as PID 1, Node 20 and the built postgres-agent / postgres-ops.
#
# The base images are pinned by digest, given at build time (the build refuses to start without):
#   docker build \
#     --build-arg DEBIAN_DIGEST=$(docker buildx imagetools inspect debian:bookworm-slim --format '{{.Manifest.Digest}}') \
#     --build-arg NODE_DIGEST=$(docker buildx imagetools inspect node:20-bookworm-slim --format '{{.Manifest.Digest}}') \
#     -t ghcr.io/pyairtable/postgres-agent:0.1.0 .
# Record the two digests with the image (release notes, CI variables) to rebuild the same image.

ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG DEBIAN_DIGEST
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NODE_DIGEST

FROM ${NODE_IMAGE}@${NODE_DIGEST} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed by any runtime dependency (all pure JavaScript).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}@${NODE_DIGEST} AS node

FROM ${DEBIAN_IMAGE}@${DEBIAN_DIGEST}
# The versions the test suites run (test/chart/dockerfile.test.ts compares them with this machine's).
ARG PG_MAJOR=15
ARG PATRONI_VERSION=3.0.2-1
ARG PGBACKREST_VERSION=2.45-1
# uid/gid 999 before the packages: the chart runs every pod as 999 (Pod Security "restricted"), and
# the default pg_hba line "local all postgres peer" needs that uid to be named postgres.
RUN set -eux; \
    groupadd --system --gid 999 postgres; \
    useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common; \
    # No cluster of Debian's own: postgres-agent (through Patroni) makes the data directory.
    sed -ri 's/#?(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends \
      "postgresql-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}" \
      "patroni=${PATRONI_VERSION}" "pgbackrest=${PGBACKREST_VERSION}" \
      tini ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/postgresql /var/run/postgresql; \
    chown 999:999 /var/lib/postgresql /var/run/postgresql; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" --version | grep -q "PostgreSQL) ${PG_MAJOR}\."; \
    patroni --version | grep -q "patroni ${PATRONI_VERSION%-*}"; \
    pgbackrest version | grep -q "pgBackRest ${PGBACKREST_VERSION%-*}"; \
    tini --version
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app/package.json /opt/pgops/package.json
COPY --from=build /app/node_modules /opt/pgops/node_modules
COPY --from=build /app/dist /opt/pgops/dist
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /opt/pgops/dist/agent/main.js "$@"\n' > /usr/local/bin/postgres-agent \
 && printf '#!/bin/sh\nexec /usr/local/bin/node /opt/pgops/dist/ops/main.js "$@"\n' > /usr/local/bin/postgres-ops \
 && chmod 0755 /usr/local/bin/postgres-agent /usr/local/bin/postgres-ops \
 && node --version && postgres-agent --help > /dev/null

ENV NODE_ENV=production \
    PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH \
    PGDATA=/var/lib/postgresql/data/pgdata
USER 999:999
# 5432 PostgreSQL, 8008 Patroni's REST API, 8009 the agent's probes.
EXPOSE 5432 8008 8009
# tini as PID 1 reaps what PostgreSQL's processes leave behind and passes signals on to the agent;
# the chart's containers call it the same way.
ENTRYPOINT ["tini", "--", "postgres-agent"]
CMD ["instance"]
