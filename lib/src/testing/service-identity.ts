// The deployment secret of every test system, and credentials signed with it: a test calls an
// internal route as the service that would (`serviceHeaders('gateway', 'persist', user)`).
import { ServiceIdentity } from '../identity/service-identity.ts';

/** SERVICE_SECRET of every service a test starts (spawnService sets it). */
export const TEST_SERVICE_SECRET = 'test-deployment-secret-0123456789abcdef';

/**
 * The management token of every discovery a test starts, which every other service a test starts
 * sends (spawnService sets ACL_MANAGEMENT_TOKEN and DISCOVERY_TOKEN): tests register names of their
 * own. Per-service tokens are proven by discovery's ACL test and by `npm start`, which makes them.
 */
export const TEST_DISCOVERY_TOKEN = 'test-discovery-management-token-0123456789';

/** Headers proving a call from `caller` to `target`, acting for `user` when given. */
export function serviceHeaders(caller: string, target: string, user?: string): Record<string, string> {
  return new ServiceIdentity(caller, TEST_SERVICE_SECRET).headers(target, user);
}
