// buildApp(config): avatar on the shared kit: the avatar route, its cache and renderer. Never listens.
import { createService, type Service } from '@notify/lib';
import { AvatarCache } from './cache/avatar-cache.ts';
import type { Config } from './config.ts';
import { AvatarRenderer } from './render/avatar-renderer.ts';
import { LIBVIPS_VERSION } from './render/png-encoder.ts';
import { RenderLimiter } from './render/render-limiter.ts';
import { avatarRoutes } from './routes/avatars.ts';

export interface AvatarApp {
  service: Service;
  renderer: AvatarRenderer;
}

export function buildApp(config: Readonly<Config>): AvatarApp {
  const service = createService({ name: 'avatar', config, defaultCallers: ['gateway'] });
  const cache = new AvatarCache({ maxBytes: config.CACHE_MAX_BYTES, maxEntries: config.CACHE_MAX_ENTRIES, registry: service.metrics });
  const limiter = new RenderLimiter({ maxConcurrent: config.MAX_CONCURRENT_RENDERS, maxQueued: config.MAX_QUEUED_RENDERS, registry: service.metrics });
  const renderer = new AvatarRenderer({
    cache,
    limiter,
    registry: service.metrics,
    compressionLevel: config.PNG_COMPRESSION_LEVEL,
    timeoutMs: config.RENDER_TIMEOUT_MS,
  });

  // Shown in /status; not required: a full queue refuses renders but cached avatars are still served.
  service.addDependency(
    'renderer',
    () => {
      const { entries, bytes } = cache.usage();
      const detail = `libvips ${LIBVIPS_VERSION}; ${limiter.running} rendering, ${limiter.queued} queued; cache ${entries} avatars, ${bytes} bytes`;
      return { state: limiter.queued >= config.MAX_QUEUED_RENDERS ? 'degraded' : 'up', detail };
    },
    { required: false },
  );

  void service.app.register(avatarRoutes, { renderer, defaultStyle: config.DEFAULT_STYLE });
  return { service, renderer };
}
