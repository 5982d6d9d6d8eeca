// The avatar URL's parts, validated at the edge: `GET /avatars/:seed.png?size=N&style=S`.
import { z } from 'zod';
import { STYLE_NAMES } from '../styles/resolve.ts';
import { SEED_PATTERN, SEED_RULE } from './seed.ts';

export const MIN_SIZE = 16;
export const MAX_SIZE = 1024;
export const DEFAULT_SIZE = 128;

const SIZE_RULE = `size must be a whole number of pixels from ${MIN_SIZE} to ${MAX_SIZE}`;

/** `(got "12.5")`: what the caller sent, so the message names the problem. */
const got = (input: unknown) => (input === undefined ? '' : ` (got ${JSON.stringify(input)})`);

export const avatarParams = z.object({
  seed: z.string().regex(SEED_PATTERN, { error: (issue) => `${SEED_RULE}${got(issue.input)}` }),
});

export const avatarQuery = z.object({
  // Digits only: Number() would also take "1e2", "0x40" or " 64".
  size: z
    .string({ error: (issue) => `${SIZE_RULE}${got(issue.input)}` })
    .regex(/^[0-9]{1,5}$/, { error: (issue) => `${SIZE_RULE}${got(issue.input)}` })
    .transform(Number)
    .refine((size) => size >= MIN_SIZE && size <= MAX_SIZE, { error: (issue) => `${SIZE_RULE}${got(String(issue.input))}` })
    .optional(),
  style: z.enum(STYLE_NAMES, { error: (issue) => `unknown avatar style${got(issue.input)}; styles: ${STYLE_NAMES.join(', ')}` }).optional(),
});

export type AvatarParams = z.infer<typeof avatarParams>;
export type AvatarQuery = z.infer<typeof avatarQuery>;
