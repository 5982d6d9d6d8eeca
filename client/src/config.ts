// The client server's environment: the kit's base keys (port 3333) and where browsers reach the gateway.
import { z } from 'zod';
import { baseConfigShape, env } from '@notify/lib';

export const configSchema = z.object({
  ...baseConfigShape({ port: 3333, browser: true }),
  GATEWAY_URL: env.url('http://127.0.0.1:4000', 'Address of the gateway as the browser reaches it (socket.io and /avatars)'),
  CLIENT_REBUILD: env.bool(false, 'Build the app at start even when client/dist is newer than its sources'),
});

export type Config = z.infer<typeof configSchema>;
