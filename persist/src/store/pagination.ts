// Prisma `where` clauses for pages in (createdAt desc, id desc) order, after a decoded cursor.

/** The sort key of the last item of the previous page. */
export interface TimeKey {
  createdAt: Date;
  id: string;
}

/** Prisma `where` for "strictly after `after`" in (createdAt desc, id desc) order; nothing for the first page. */
export function afterTime(after: TimeKey | undefined): object {
  if (!after) return {};
  const { createdAt, id } = after;
  return { OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] };
}
