# netlink-exporter container image: the addon and the TypeScript are built in a full Debian
# image with a compiler; the runtime image is node:20-bookworm-slim with the built addons,
# dist/src, the production dependencies, package.json and config/ only.
#
#   docker build -t netlink-exporter .
#   docker run --network host netlink-exporter
#
# The host's network namespace needs --network host (or hostNetwork in Kubernetes). The image
# runs as the unprivileged user `node`: it watches the namespace and says that its receive
# buffer is capped by net.core.rmem_max. For the full buffer run it as root with only
# CAP_NET_ADMIN (Docker gives a non-root user no ambient capabilities):
#   docker run --network host --user 0 --cap-drop ALL --cap-add NET_ADMIN --read-only netlink-exporter

# --- build: the native addons and dist/ ---------------------------------------------------------
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The image ships Node's headers: node-gyp needs no download.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# Dependencies first (a cached layer); the package's own install script needs the sources below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY binding.gyp tsconfig.json ./
COPY addon/ addon/
COPY src/ src/
RUN npm run build

# --- deps: production dependencies only ---------------------------------------------------------
FROM node:20-bookworm AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# node-addon-api is a compile-time header library: not needed at run time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node-addon-api node_modules/.bin

# --- runtime --------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/netlink-exporter
COPY --from=deps /src/node_modules/ ./node_modules/
COPY --from=build /src/build/Release/*.node ./build/Release/
COPY --from=build /src/dist/src/ ./dist/src/
COPY package.json ./
COPY config/ ./config/
USER node
EXPOSE 9932
ENTRYPOINT ["node", "/opt/netlink-exporter/dist/src/main.js"]
