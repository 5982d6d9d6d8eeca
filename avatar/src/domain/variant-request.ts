// A variant of a user's avatar as its URL names it, validated at the edge:
// `GET /avatars/:userId?size=&format=&fit=&grayscale=&blur=&v=`; and the variants pre-rendered after
// an upload (`PRERENDER_VARIANTS`, `size:format,…`).
import { z } from 'zod';
import { PICTURE_FITS, PICTURE_FORMATS, pictureVersion } from '@notify/lib/contracts';
import { DEFAULT_SIZE, MAX_SIZE, MIN_SIZE } from './avatar-request.ts';
import { SEED_PATTERN } from './seed.ts';

export type VariantFormat = (typeof PICTURE_FORMATS)[number];
export type VariantFit = (typeof PICTURE_FITS)[number];

/** Everything that decides a variant's pixels and encoding, besides the picture itself. */
export interface VariantSpec {
  size: number;
  format: VariantFormat;
  fit: VariantFit;
  grayscale: boolean;
  /** Gaussian sigma; undefined: no blur. */
  blur: number | undefined;
}

export const MIN_BLUR = 0.3;
export const MAX_BLUR = 20;

const SIZE_RULE = `size must be a whole number of pixels from ${MIN_SIZE} to ${MAX_SIZE}`;
const BLUR_RULE = `blur must be a sigma from ${MIN_BLUR} to ${MAX_BLUR} (e.g. 2 or 0.5)`;
const USER_RULE = 'the user id must be 1-128 characters of A-Z a-z 0-9 . _ @ + -';

/** `(got "12.5")`: what the caller sent, so the message names the problem. */
const got = (input: unknown) => (input === undefined ? '' : ` (got ${JSON.stringify(input)})`);

export const variantParams = z.object({
  userId: z.string().regex(SEED_PATTERN, { error: (issue) => `${USER_RULE}${got(typeof issue.input === 'string' ? issue.input.slice(0, 40) : issue.input)}` }),
});

export const variantQuery = z.object({
  // Digits only: Number() would also take "1e2", "0x40" or " 64".
  size: z
    .string({ error: (issue) => `${SIZE_RULE}${got(issue.input)}` })
    .regex(/^[0-9]{1,5}$/, { error: (issue) => `${SIZE_RULE}${got(issue.input)}` })
    .transform(Number)
    .refine((size) => size >= MIN_SIZE && size <= MAX_SIZE, { error: (issue) => `${SIZE_RULE}${got(String(issue.input))}` })
    .default(DEFAULT_SIZE),
  format: z.enum(PICTURE_FORMATS, { error: (issue) => `format must be one of ${PICTURE_FORMATS.join(', ')}${got(issue.input)}` }).default('png'),
  fit: z.enum(PICTURE_FITS, { error: (issue) => `fit must be one of ${PICTURE_FITS.join(', ')}${got(issue.input)}` }).default('cover'),
  grayscale: z
    .enum(['true', 'false'], { error: (issue) => `grayscale must be true or false${got(issue.input)}` })
    .transform((text) => text === 'true')
    .default(false),
  // Plain decimals only: no exponents, no NaN, no Infinity.
  blur: z
    .string({ error: (issue) => `${BLUR_RULE}${got(issue.input)}` })
    .regex(/^[0-9]{1,2}(\.[0-9]{1,3})?$/, { error: (issue) => `${BLUR_RULE}${got(issue.input)}` })
    .transform(Number)
    .refine((sigma) => sigma >= MIN_BLUR && sigma <= MAX_BLUR, { error: (issue) => `${BLUR_RULE}${got(String(issue.input))}` })
    .optional(),
  v: pictureVersion.optional(),
});

export type VariantQuery = z.infer<typeof variantQuery>;

export function variantSpec(query: VariantQuery): VariantSpec {
  return { size: query.size, format: query.format, fit: query.fit, grayscale: query.grayscale, blur: query.blur };
}

/** The variant's part of cache keys and ETags: one text per distinct variant. */
export function variantKey(spec: VariantSpec): string {
  return `${spec.size}:${spec.format}:${spec.fit}:${spec.grayscale ? 'g' : 'c'}:${spec.blur ?? '-'}`;
}

export const VARIANT_CONTENT_TYPES: Readonly<Record<VariantFormat, string>> = { png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

/** `32:webp,128:png` → those variants (fit cover, in colour, sharp); `none` → none. Throws naming the bad item. */
export function parsePrerenderVariants(text: string): VariantSpec[] {
  if (text.trim() === 'none') return [];
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.map((item) => {
    const match = /^([0-9]{1,5}):([a-z]+)$/.exec(item);
    const size = match ? Number(match[1]) : NaN;
    const format = match?.[2] as VariantFormat | undefined;
    if (!match || size < MIN_SIZE || size > MAX_SIZE || !format || !PICTURE_FORMATS.includes(format)) {
      throw new Error(`"${item}" is not size:format (size ${MIN_SIZE}-${MAX_SIZE}, format ${PICTURE_FORMATS.join('|')})`);
    }
    return { size, format, fit: 'cover', grayscale: false, blur: undefined };
  });
}
