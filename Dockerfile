# pqlkit serve: the server (docs/server.md). Build: docker build -t pqlkit .
# Only the core package is installed and built; better-sqlite3 compiles against Node 20.
FROM node:20.19-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY destinations/segment/package.json destinations/segment/
COPY destinations/rudderstack/package.json destinations/rudderstack/
COPY plugins/posthog/package.json plugins/posthog/
COPY test/package.json test/
COPY core core
RUN npm ci --ignore-scripts --workspace @pqlkit/core --include-workspace-root \
 && npm rebuild better-sqlite3 \
 && npx tsc -b core \
 && npm prune --omit=dev --ignore-scripts --workspace @pqlkit/core

FROM node:20.19-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/core core
RUN mkdir /data /model && chown node /data
USER node
# SQLite in the /data volume unless PQLKIT_DATABASE_URL points at PostgreSQL; the model is mounted at /model/model.yaml.
ENV PQLKIT_HOST=0.0.0.0 PQLKIT_PORT=8787 PQLKIT_DATABASE_URL=/data/pqlkit.sqlite
VOLUME /data
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:8787/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "core/bin/pqlkit.js", "serve", "--model", "/model/model.yaml"]
