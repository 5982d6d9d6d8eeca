// The Consul API routes' public surface.
export { consulApi, MAX_BODY_BYTES } from './consul-api.ts';
export type { ConsulRoutesOptions } from './consul-http.ts';
