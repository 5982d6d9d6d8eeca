// Conditional GET: does an If-None-Match header name the current representation? (RFC 9110 §13.1.2:
// weak comparison, a list of entity tags, or `*`.)

/** True when `header` matches `etag` (a strong, quoted tag): the answer is then 304 Not Modified. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  for (const candidate of header.split(',')) {
    const tag = candidate.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}
