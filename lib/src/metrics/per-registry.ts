// Metrics that several instances of one component share: created once per registry, on first use.

/** Wraps `create` so each registry gets its metrics once, however many components ask. */
export function perRegistry<R extends object, M>(create: (registry: R) => M): (registry: R) => M {
  const made = new WeakMap<R, M>();
  return (registry) => {
    let metrics = made.get(registry);
    if (!metrics) {
      metrics = create(registry);
      made.set(registry, metrics);
    }
    return metrics;
  };
}
