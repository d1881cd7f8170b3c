# instanas serve: every bundle under /app/models over HTTP on $PORT (default 8080).
#   docker build -t instanas .   &&   docker run -p 8080:8080 instanas
# Bundles can also be mounted over /app/models at run time.

# ---- build: full npm install (tsc, esbuild), compile, build the web demo, drop dev deps
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The web demo embeds the first Fashion-MNIST test images, from Debian's dataset package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends dataset-fashion-mnist \
 && rm -rf /var/lib/apt/lists/*
# .npmrc keeps onnxruntime-node-install=skip: the CPU binary ships inside the npm package.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY runtime ./runtime
COPY server ./server
COPY schema ./schema
COPY web ./web
COPY models ./models
COPY test/fixtures/tiny ./test/fixtures/tiny
# --ignore-scripts above skipped the packages' install steps; run them now (sharp picks its
# prebuilt @img/* binary, onnxruntime-node's download stays off via .npmrc).
RUN npm rebuild --no-audit --no-fund \
 && npm run build \
 && if [ -f web/build.mjs ]; then node web/build.mjs; fi && mkdir -p web/dist \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: only what serving needs, as the unprivileged 'node' user
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/schema ./schema
COPY --from=build --chown=root:root /app/models ./models
COPY --from=build --chown=root:root /app/web/dist ./web/dist
USER node
EXPOSE 8080
# The check starts a node process: 10 s leaves room for a busy 2-core host (3 s timed out there while
# the server answered; measured 2026-11-30 with a training running).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM directly; `serve` drains and exits 0.
CMD ["node", "bin/instanas.js", "serve", "--models", "models", "--host", "0.0.0.0"]
