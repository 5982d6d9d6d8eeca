// Users table access.
import { randomUUID } from 'node:crypto';
import type { Database } from './database.ts';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  passwordHash: string;
  createdAt: Date;
}

export class UserStore {
  constructor(private readonly db: Database) {}

  /** Inserts a user; a taken email raises Prisma's P2002. */
  create(input: { email: string; name: string; passwordHash: string }): Promise<UserRow> {
    return this.db.user.create({ data: { id: randomUUID(), ...input } });
  }

  byEmail(email: string): Promise<UserRow | null> {
    return this.db.user.findUnique({ where: { email } });
  }

  byId(id: string): Promise<UserRow | null> {
    return this.db.user.findUnique({ where: { id } });
  }

  rename(id: string, name: string): Promise<UserRow> {
    return this.db.user.update({ where: { id }, data: { name } });
  }
}
