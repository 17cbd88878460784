# Gatehouse container image. Node 26 is the current LTS line; the code itself runs on Node 20+.
FROM node:26-slim AS build
# A C compiler for the zero-copy relay (native/splice.c); the image's Node brings its headers.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs ./scripts/
COPY native ./native
RUN npm ci --no-audit --no-fund && node scripts/build-native.mjs --strict
COPY tsconfig.json tsconfig.build.json ./
COPY protocol ./protocol
COPY src ./src
RUN npm run build

FROM node:26-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/build ./build
USER node
# 9092 bootstrap, 9100+N brokers (listen.brokerPortBase), 9404 metrics and health (observability.port)
EXPOSE 9092 9404
ENTRYPOINT ["node", "bin/gatehouse.mjs"]
CMD ["run", "--config", "/etc/gatehouse/gatehouse.yaml"]
