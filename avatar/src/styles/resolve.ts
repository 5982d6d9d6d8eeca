// Style lookup by name; an unknown name fails loudly rather than falling back to a default.
import { createError } from '@notify/lib';
import type { AvatarStyle } from './base.ts';
import { GithubStyle } from './github.ts';
import { IdenticonStyle } from './identicon.ts';

// Styles hold no state, so each is one shared instance.
const STYLES = {
  github: new GithubStyle(),
  identicon: new IdenticonStyle(),
} satisfies Record<string, AvatarStyle>;

export type StyleName = keyof typeof STYLES;

export const STYLE_NAMES = Object.keys(STYLES) as [StyleName, ...StyleName[]];

export function isStyleName(name: string): name is StyleName {
  return Object.hasOwn(STYLES, name);
}

/** The style called `name` ("github", "identicon"); throws INVALID_ARGUMENT naming the known ones otherwise. */
export function resolveStyle(name: string): AvatarStyle {
  if (!isStyleName(name)) {
    throw createError({
      code: 'INVALID_ARGUMENT',
      message: `unknown avatar style ${JSON.stringify(name)} (known: ${STYLE_NAMES.join(', ')})`,
      details: { style: name, known: STYLE_NAMES },
    });
  }
  return STYLES[name];
}
