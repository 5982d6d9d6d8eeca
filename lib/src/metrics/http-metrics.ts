// HTTP request metrics for a fastify instance: count and duration by method, route and status.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS, METRIC } from './names.ts';

const started = new WeakMap<FastifyRequest, bigint>();

/** Registers the HTTP metrics on `registry` and the hooks that feed them; returns the in-flight gauge reader. */
export function instrumentHttp(app: FastifyInstance, registry: Registry): { inFlight: () => number } {
  const requests = new Counter({
    name: METRIC.httpRequestsTotal,
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: METRIC.httpRequestDuration,
    help: 'HTTP request duration in seconds, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  let inFlight = 0;
  new Gauge({
    name: METRIC.httpRequestsInFlight,
    help: 'HTTP requests being handled now',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });

  // Callback hooks: these run on every request, and a callback costs no promise and no microtask.
  app.addHook('onRequest', (request, reply, done) => {
    inFlight += 1;
    // 'close' fires once whether the response completed or the client went away (where
    // onResponse never runs), so the gauge cannot drift upwards.
    reply.raw.once('close', () => {
      inFlight -= 1;
    });
    started.set(request, process.hrtime.bigint());
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const start = started.get(request);
    // Unmatched URLs share one label so a scanner cannot blow up the series count.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    requests.inc(labels);
    if (start !== undefined) duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    done();
  });
  return { inFlight: () => inFlight };
}
