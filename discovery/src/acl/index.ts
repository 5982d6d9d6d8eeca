export { Acl, ANONYMOUS_ACCESSOR_ID, managementToken, readToken, serviceToken, type AclToken, type Authorizer } from './acl.ts';
export type { Access, DefaultPolicy, Resource } from './rules.ts';
