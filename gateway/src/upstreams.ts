// The services behind the gateway: one UpstreamClient per service (round-robin over discovery's
// passing instances, a circuit breaker per instance, a deadline per call, retries only for calls
// safe to repeat), and a typed client per service built from its contract in the kit, so a
// changed route breaks the build here rather than a call at run time.
import { contractClient, MAILER_API_TAG, type Service, type UpstreamClient } from '@notify/lib';
import { authContract, avatarContract, counterContract, mailerContract, persistContract } from '@notify/lib/contracts';
import type { Config } from './config.ts';

const UPSTREAM_SERVICES = ['auth', 'persist', 'counter', 'mailer', 'avatar'] as const;
/** Services whose callers want only some instances: the mailer nodes that serve its REST API. */
const TAGS: Partial<Record<string, string>> = { mailer: MAILER_API_TAG };

export class Upstreams {
  readonly auth;
  readonly persist;
  readonly counter;
  readonly mailer;
  /** Uploads and removals of pictures (decoding takes time: AVATAR_TIMEOUT_MS). */
  readonly avatar;
  /** The same service for reads of avatar versions, with their short deadline (AVATAR_VERSIONS_TIMEOUT_MS). */
  readonly avatarVersions;

  constructor(
    private readonly service: Service,
    private readonly config: Readonly<Config>,
  ) {
    for (const name of UPSTREAM_SERVICES) {
      const client = this.client(name);
      service.addDependency(name, () => {
        const live = this.upstream(name).watcher.instances().length;
        const breakers = Object.values(client.states());
        const open = breakers.filter((state) => state === 'open').length;
        if (live === 0) return { state: 'down', detail: 'no passing instance in discovery' };
        if (open >= live) return { state: 'down', detail: `every breaker open (${open})` };
        return { state: open ? 'degraded' : 'up', detail: `${live} instance(s), ${open} breaker(s) open` };
      }, { required: false });
    }
    const deadline = { deadlineMs: config.UPSTREAM_TIMEOUT_MS };
    this.auth = contractClient(this.client('auth'), authContract, deadline);
    this.persist = contractClient(this.client('persist'), persistContract, deadline);
    this.counter = contractClient(this.client('counter'), counterContract, deadline);
    this.mailer = contractClient(this.client('mailer'), mailerContract, deadline);
    this.avatar = contractClient(this.client('avatar'), avatarContract, { deadlineMs: config.AVATAR_TIMEOUT_MS });
    this.avatarVersions = contractClient(this.client('avatar'), avatarContract, { deadlineMs: config.AVATAR_VERSIONS_TIMEOUT_MS });
  }

  /** Waits (bounded) for discovery's first answer about each service, so the first calls find instances. */
  async ready(timeoutMs = 5_000): Promise<void> {
    const answers = await Promise.allSettled(UPSTREAM_SERVICES.map((name) => this.upstream(name).watcher.ready(timeoutMs)));
    for (const answer of answers) if (answer.status === 'rejected') this.service.log.warn({ err: answer.reason }, 'starting without an answer from discovery');
  }

  /** The client of one service (the kit's, cached and closed by it; the coordinator asks for participants by name). */
  client(name: string): UpstreamClient {
    const tag = TAGS[name];
    return this.service.client(name, {
      ...(tag === undefined ? {} : { tag }),
      breaker: {
        errorThresholdPercentage: this.config.BREAKER_ERROR_THRESHOLD_PERCENT,
        volumeThreshold: this.config.BREAKER_VOLUME_THRESHOLD,
        resetTimeoutMs: this.config.BREAKER_RESET_MS,
        rollingWindowMs: this.config.BREAKER_WINDOW_MS,
      },
    });
  }

  private upstream(name: string) {
    const tag = TAGS[name];
    return this.service.upstream(name, tag === undefined ? {} : { tag });
  }
}
