# One image recipe for every service: `docker build --build-arg WORKSPACE=discovery .`
# Services run from their TypeScript source through tsx, exactly as `npm start` runs them.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY lib/package.json lib/
COPY discovery/package.json discovery/
# Runtime dependencies only: the image brings its own Node 24, so the `node` devDependency is left out.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ARG WORKSPACE
ENV NODE_ENV=production WORKSPACE=${WORKSPACE}
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json tsconfig.base.json ./
COPY lib lib
COPY ${WORKSPACE} ${WORKSPACE}
USER node
CMD ["sh", "-c", "exec node --import tsx ${WORKSPACE}/src/server.ts"]
