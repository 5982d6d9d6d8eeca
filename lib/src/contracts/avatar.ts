// The avatar service's one route: `GET /avatars/:seed.png?size=N&style=S`, PNG bytes drawn from the
// text in the path. The avatar service checks that text, the size and the style more closely (its
// styles are a family it resolves by name).
import { z } from 'zod';
import { defineContract, defineRoute } from './contract.ts';

export const avatarContract = defineContract('avatar', {
  render: defineRoute({
    method: 'GET',
    path: '/avatars/:seed.png',
    params: z.object({ seed: z.string() }),
    query: z.object({ size: z.string().optional(), style: z.string().optional() }),
    response: z.custom<Uint8Array>(),
    idempotent: true,
  }),
});
