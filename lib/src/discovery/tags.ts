// Discovery tags that callers select instances by (Consul's `tag` filter).

/** Mailer nodes that serve the REST API (ENABLE_REST_API); worker-only nodes are tagged `worker`. */
export const MAILER_API_TAG = 'api';
