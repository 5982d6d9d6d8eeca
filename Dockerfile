# One image recipe for every service: `docker build --build-arg WORKSPACE=auth .`
# Services run from their TypeScript source through tsx, exactly as `npm start` runs them.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY lib/package.json lib/
COPY discovery/package.json discovery/
COPY auth/package.json auth/
COPY counter/package.json counter/
COPY persist/package.json persist/
COPY mailer/package.json mailer/
COPY avatar/package.json avatar/
COPY gateway/package.json gateway/
COPY client/package.json client/
RUN npm ci --no-audit --no-fund
COPY . .
# Prisma clients are generated and the React client is built, never committed; then the tools go
# (the image brings its own Node 24).
RUN npm run generate && npm run build --workspaces --if-present && npm prune --omit=dev --no-audit --no-fund

FROM node:24-slim
ARG WORKSPACE
ENV NODE_ENV=production WORKSPACE=${WORKSPACE}
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/package.json /app/tsconfig.base.json ./
COPY --from=build /app/lib lib
COPY --from=build /app/${WORKSPACE} ${WORKSPACE}
USER node
CMD ["sh", "-c", "exec node --import tsx ${WORKSPACE}/src/server.ts"]
