// Bounds the renders running at once (each holds one of libuv's threads while sharp encodes) and
// the renders waiting for a turn, with the kit's limiter; past that bound a render is refused at
// once, so a burst of cold requests meets a clear 503 instead of an ever-growing queue.
import { Gauge, type Registry } from 'prom-client';
import { ConcurrencyLimiter, METRIC } from '@notify/lib';

export interface RenderLimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
  registry: Registry;
}

export class RenderLimiter extends ConcurrencyLimiter {
  constructor(options: RenderLimiterOptions) {
    super({
      maxConcurrent: options.maxConcurrent,
      maxQueued: options.maxQueued,
      refusal: (running, queued) => `too many avatars being drawn (${running} running, ${queued} waiting); try again`,
    });
    const running = () => this.running;
    const queued = () => this.queued;
    new Gauge({
      name: METRIC.avatarRendersInFlight,
      help: 'Avatar renders drawing or encoding now',
      registers: [options.registry],
      collect() {
        this.set(running());
      },
    });
    new Gauge({
      name: METRIC.avatarRendersQueued,
      help: 'Avatar renders waiting for a free render slot',
      registers: [options.registry],
      collect() {
        this.set(queued());
      },
    });
  }
}
