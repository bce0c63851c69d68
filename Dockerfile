# One image for every PostgreSQL pod and job of the chart: the official PostgreSQL 16 server and
# client tools, Node 20, and the built postgres-agent / postgres-ops.
#   docker build -t ghcr.io/pyairtable/postgres-agent:0.1.0 .

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed by any runtime dependency (all pure JavaScript).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM postgres:16-bookworm
# Node's runtime libraries (libstdc++, libgcc) are already in the PostgreSQL image.
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app/package.json /opt/pgops/package.json
COPY --from=build /app/node_modules /opt/pgops/node_modules
COPY --from=build /app/dist /opt/pgops/dist
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /opt/pgops/dist/agent/main.js "$@"\n' > /usr/local/bin/postgres-agent \
 && printf '#!/bin/sh\nexec /usr/local/bin/node /opt/pgops/dist/ops/main.js "$@"\n' > /usr/local/bin/postgres-ops \
 && chmod 0755 /usr/local/bin/postgres-agent /usr/local/bin/postgres-ops \
 && node --version && postgres-agent --help > /dev/null

ENV NODE_ENV=production \
    PGDATA=/var/lib/postgresql/data/pgdata
# uid/gid 999 is the image's postgres user; the chart runs every pod as it (Pod Security "restricted").
USER 999:999
EXPOSE 5432 8008
ENTRYPOINT ["postgres-agent"]
CMD ["instance"]
