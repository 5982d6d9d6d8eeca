// Tokens and what they may do: the management token, service-identity tokens, read tokens and the
// anonymous token of a request without one, under Consul's default policy. Knows nothing of HTTP.
import { createHash } from 'node:crypto';
import { grants, levelFor, READ_EVERYTHING, serviceIdentityRules, type Access, type DefaultPolicy, type Resource, type Rules } from './rules.ts';

/** Consul's fixed AccessorID of the anonymous token, used for requests that carry none. */
export const ANONYMOUS_ACCESSOR_ID = '00000000-0000-0000-0000-000000000002';
/** Consul's fixed id of the global-management policy. */
const GLOBAL_MANAGEMENT_POLICY_ID = '00000000-0000-0000-0000-000000000001';

export interface AclToken {
  /** Public id of the token (what logs and denials name); derived from the secret, so stable across restarts. */
  readonly accessorId: string;
  readonly secretId: string;
  readonly description: string;
  readonly management: boolean;
  /** Service names the token acts as (Consul's ServiceIdentities). */
  readonly serviceIdentities: readonly string[];
  readonly rules: readonly Rules[];
}

/** What one request may do. */
export interface Authorizer {
  readonly accessorId: string;
  /** Management: everything, including taking over what other tokens registered. */
  readonly management: boolean;
  /** The token behind it; undefined for the anonymous token. */
  readonly token: AclToken | undefined;
  allows(resource: Resource, name: string, access: Access): boolean;
  /** Consul's wording of a refusal of `access` on `name`. */
  denial(resource: Resource, name: string, access: Access): string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A UUID-shaped AccessorID derived from the secret; the secret cannot be read back from it. */
function accessorIdFor(secretId: string): string {
  const hex = sha256(`accessor:${secretId}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function managementToken(secretId: string): AclToken {
  return { accessorId: accessorIdFor(secretId), secretId, description: 'Initial management token', management: true, serviceIdentities: [], rules: [] };
}

/** A token acting as service `name`: registers, deregisters and heartbeats it; reads everything. */
export function serviceToken(name: string, secretId: string): AclToken {
  return { accessorId: accessorIdFor(secretId), secretId, description: `Service identity: ${name}`, management: false, serviceIdentities: [name], rules: [serviceIdentityRules(name)] };
}

/** A token that reads every service, node and the agent, and writes nothing (Prometheus's). */
export function readToken(secretId: string): AclToken {
  return { accessorId: accessorIdFor(secretId), secretId, description: 'Read everything', management: false, serviceIdentities: [], rules: [READ_EVERYTHING] };
}

class TokenAuthorizer implements Authorizer {
  constructor(
    readonly token: AclToken | undefined,
    private readonly defaultPolicy: DefaultPolicy,
  ) {}

  get accessorId(): string {
    return this.token?.accessorId ?? ANONYMOUS_ACCESSOR_ID;
  }

  get management(): boolean {
    return this.token?.management ?? false;
  }

  allows(resource: Resource, name: string, access: Access): boolean {
    if (this.management) return true;
    // Rules of several policies on one token merge as Consul's do: a deny at any of them wins.
    const levels = (this.token?.rules ?? []).map((set) => levelFor(set, resource, name)).filter((level) => level !== undefined);
    if (levels.length === 0) return this.defaultPolicy === 'allow';
    return !levels.includes('deny') && levels.some((level) => grants(level, access));
  }

  denial(resource: Resource, name: string, access: Access): string {
    const permission = `'${resource}:${access}' on ${JSON.stringify(name)}`;
    return this.token
      ? `Permission denied: token with AccessorID '${this.token.accessorId}' lacks permission ${permission}`
      : `Permission denied: anonymous token lacks permission ${permission}. The anonymous token is used implicitly when a request does not specify a token.`;
  }
}

/** Allows everything: the registry with ACLs off, as Consul without `acl.enabled`. */
const OPEN: Authorizer = {
  accessorId: ANONYMOUS_ACCESSOR_ID,
  management: true,
  token: undefined,
  allows: () => true,
  denial: () => 'Permission denied',
};

export interface AclOptions {
  enabled: boolean;
  defaultPolicy: DefaultPolicy;
  tokens: readonly AclToken[];
}

export class Acl {
  readonly enabled: boolean;
  private readonly bySecretHash = new Map<string, AclToken>();
  private readonly anonymous: Authorizer;

  constructor(private readonly options: AclOptions) {
    this.enabled = options.enabled;
    for (const token of options.tokens) {
      const key = sha256(token.secretId);
      if (this.bySecretHash.has(key)) throw new Error(`two ACL tokens share one secret (${token.description}, ${this.bySecretHash.get(key)!.description})`);
      this.bySecretHash.set(key, token);
    }
    this.anonymous = new TokenAuthorizer(undefined, options.defaultPolicy);
  }

  /** The authorizer for a request's secret (none: the anonymous token); undefined for an unknown secret (Consul: "ACL not found"). */
  resolve(secretId: string | undefined): Authorizer | undefined {
    if (!this.enabled) return OPEN;
    if (secretId === undefined || secretId === '') return this.anonymous;
    // Looked up by hash, so the time taken says nothing about how much of a guess was right.
    const token = this.bySecretHash.get(sha256(secretId));
    return token ? new TokenAuthorizer(token, this.options.defaultPolicy) : undefined;
  }

  /** Consul's token read shape (GET /v1/acl/token/self). */
  static describe(token: AclToken): Record<string, unknown> {
    return {
      AccessorID: token.accessorId,
      SecretID: token.secretId,
      Description: token.description,
      Policies: token.management ? [{ ID: GLOBAL_MANAGEMENT_POLICY_ID, Name: 'global-management' }] : [],
      ServiceIdentities: token.serviceIdentities.map((name) => ({ ServiceName: name })),
      Local: false,
    };
  }
}
