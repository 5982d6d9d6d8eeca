// Text PostgreSQL can store: no NUL character (text columns refuse it, 22P05/22021) and no unpaired
// UTF-16 surrogate (it has no UTF-8 form). JSON allows both ("\u0000", "\ud800"), so every edge
// checks whole inputs with this before anything is written. Browser-safe: no imports.

/** A lone high surrogate (not followed by a low one) or a lone low surrogate (not after a high one). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Deepest nesting looked into; deeper input is refused as unstorable rather than walked. */
const MAX_DEPTH = 64;

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** True when `text` can be stored as PostgreSQL text. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/**
 * The path (dot-separated, '' for the value itself) of the first string or object key in `value`
 * that PostgreSQL could not store, or undefined when there is none.
 */
export function findUnstorableText(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path;
  if (typeof value !== 'object' || value === null) return undefined;
  // Bytes (an uploaded image) are not text: walking a 5 MB body key by key would cost seconds and
  // hundreds of megabytes.
  if (ArrayBuffer.isView(value)) return undefined;
  if (depth >= MAX_DEPTH) return path;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  for (const [key, item] of entries) {
    const at = path ? `${path}.${key}` : key;
    if (!isStorableText(key)) return at;
    const found = findUnstorableText(item, at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
