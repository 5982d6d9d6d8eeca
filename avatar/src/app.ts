// buildApp(config): avatar on the shared kit: generated avatars (`/avatars/:seed.png`), users'
// uploaded pictures in its database and bytes store, and variants of anyone's avatar, all through
// one bytes-bounded cache, render limiters and single-flight renders. Never listens
// (service.listen() creates and migrates the database first).
import { join } from 'node:path';
import { createService, type Service } from '@notify/lib';
import { attachDatabase } from '@notify/lib/db';
import { PrismaClient } from '../generated/prisma/client.ts';
import { AvatarCache } from './cache/avatar-cache.ts';
import type { Config } from './config.ts';
import { AvatarRenderer } from './render/avatar-renderer.ts';
import { LIBVIPS_VERSION } from './render/png-encoder.ts';
import { Prerenderer } from './render/prerender.ts';
import { renderLimiters } from './render/render-limiter.ts';
import { VariantRenderer } from './render/variant-renderer.ts';
import { avatarRoutes } from './routes/avatars.ts';
import { pictureRoutes } from './routes/pictures.ts';
import { variantRoutes } from './routes/variants.ts';
import { createDirectPool } from './store/direct-pool.ts';
import type { PictureBytesStore } from './store/picture-bytes.ts';
import { PictureTable } from './store/pictures.ts';
import { selectPictureBytesStore } from './store/select.ts';
import { resolveStyle } from './styles/resolve.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'prisma', 'migrations');

export interface AvatarApp {
  service: Service;
  renderer: AvatarRenderer;
  variants: VariantRenderer;
  cache: AvatarCache;
  store: PictureBytesStore;
}

export function buildApp(config: Readonly<Config>): AvatarApp {
  const service = createService({ name: 'avatar', config, defaultCallers: ['gateway'] });
  const { db } = attachDatabase(service, { PrismaClient, url: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE, migrationsDir: MIGRATIONS_DIR });
  // Half the service's pool size: the reads on it are short, one or two per cold variant.
  const direct = createDirectPool({
    connectionString: config.DATABASE_URL,
    poolSize: Math.max(2, Math.ceil(config.DB_POOL_SIZE / 2)),
    registry: service.metrics,
    onPoolError: (error) => service.log.warn({ err: error }, 'direct database connection lost'),
  });
  service.onClose(() => direct.end());
  const store = selectPictureBytesStore(config, { pool: direct, registry: service.metrics });
  service.onClose(() => store.close());
  const cache = new AvatarCache({ maxBytes: config.CACHE_MAX_BYTES, maxEntries: config.CACHE_MAX_ENTRIES, registry: service.metrics });
  const limiters = renderLimiters({ generated: config.MAX_CONCURRENT_RENDERS, pictures: config.MAX_CONCURRENT_PICTURE_RENDERS, maxQueued: config.MAX_QUEUED_RENDERS, registry: service.metrics });
  const renderer = new AvatarRenderer({
    cache,
    limiter: limiters.generated,
    registry: service.metrics,
    compressionLevel: config.PNG_COMPRESSION_LEVEL,
    timeoutMs: config.RENDER_TIMEOUT_MS,
  });
  const pictures = new PictureTable(db, direct);
  const variants = new VariantRenderer({
    cache,
    limiter: limiters.picture,
    avatars: renderer,
    pictures,
    store,
    style: resolveStyle(config.DEFAULT_STYLE),
    encoding: { pngCompressionLevel: config.PNG_COMPRESSION_LEVEL, webpEffort: config.WEBP_EFFORT, avifEffort: config.AVIF_EFFORT },
    maxPixels: config.PICTURE_MAX_PIXELS,
    maxQueued: config.MAX_QUEUED_RENDERS,
  });
  const prerenderer = new Prerenderer({ variants: config.PRERENDER_VARIANTS, renderer: variants, limiter: limiters.picture, maxConcurrent: config.MAX_CONCURRENT_PICTURE_RENDERS, log: service.log });
  service.onClose(() => prerenderer.close());

  // Shown in /status; not required: a full queue refuses renders but cached avatars are still served.
  service.addDependency(
    'renderer',
    () => {
      const { entries, bytes } = cache.usage();
      const { generated, picture } = limiters;
      const detail = `libvips ${LIBVIPS_VERSION}; generated avatars: ${generated.running} rendering, ${generated.queued} queued; pictures: ${picture.running} rendering, ${picture.queued} queued, ${prerenderer.waiting} to pre-render; cache ${entries} avatars, ${bytes} bytes`;
      const full = generated.queued >= config.MAX_QUEUED_RENDERS || picture.queued >= config.MAX_QUEUED_RENDERS;
      return { state: full ? 'degraded' : 'up', detail };
    },
    { required: false },
  );

  void service.app.register(avatarRoutes, { renderer, defaultStyle: config.DEFAULT_STYLE });
  void service.app.register(variantRoutes, { variants });
  void service.app.register(pictureRoutes, {
    pictures,
    store,
    limiter: limiters.picture,
    prerenderer,
    limits: { maxPixels: config.PICTURE_MAX_PIXELS, maxSide: config.PICTURE_MAX_SIDE },
  });
  return { service, renderer, variants, cache, store };
}
