// The REST API's OpenAPI 3.1 document, generated from the operations' zod schemas (z.toJSONSchema,
// JSON Schema 2020-12, which OpenAPI 3.1 uses as it is).
import { z } from 'zod';
import { errorAnswer, OPERATIONS, type RestOperation } from './operations.ts';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const generated = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete generated.$schema;
  return generated;
}

/** One OpenAPI parameter per key of an object schema; required unless the key accepts undefined. */
function parameters(where: 'path' | 'query' | 'header', schema: z.ZodObject | undefined): JsonSchema[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const generated = jsonSchema(field as z.ZodType, 'input');
    const description = generated.description;
    delete generated.description;
    return {
      name: where === 'header' ? name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase()) : name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: generated,
    };
  });
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input (INVALID_ARGUMENT): `details.issues` says where; a body over the limit, text with a NUL or an unpaired surrogate',
  401: 'No API key, or one that is unknown, malformed or revoked (UNAUTHENTICATED); session tokens are not accepted here',
  403: 'Not yours (FORBIDDEN): another user’s topic or notification',
  404: 'No such topic or notification (NOT_FOUND)',
  409: 'The state does not allow it (CONFLICT), such as `to` naming users who do not follow the topic any more',
  429: 'Past the key’s rate (RATE_LIMITED); `Retry-After` says in how many seconds to try again',
  503: 'A service behind the gateway is down or busy (UNAVAILABLE); try again after `Retry-After` when given',
  504: 'A service did not answer in time (TIMEOUT)',
};

function operation(op: RestOperation): JsonSchema {
  const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const responses: Record<string, JsonSchema> = {
    [String(op.status)]: { description: 'OK', content: { 'application/json': { schema: jsonSchema(op.response, 'output') } } },
  };
  for (const status of [400, 401, ...op.errors, 429, 503, 504]) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      ...errorRef,
      ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } } : {}),
    };
  }
  return {
    operationId: op.operationId,
    summary: op.summary,
    parameters: [...parameters('path', op.params), ...parameters('query', op.query), ...parameters('header', op.headers)],
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } } : {}),
    responses,
  };
}

/** `/api/v1/topics/:topicId` → `/api/v1/topics/{topicId}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of Object.values(OPERATIONS) as RestOperation[]) {
    const path = openApiPath(op.path);
    paths[path] = { ...paths[path], [op.method.toLowerCase()]: operation(op) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Notify REST API for services',
      version: '1.0.0',
      description:
        'Publish notifications to your own topics from a backend. Authenticate with an API key (`Authorization: Bearer nk_…`), made with the `apiKeys.create` RPC method; session tokens are not accepted. Errors are `{"error": {"code", "message", "details"}}`.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `nk_<id>_<secret>`' } },
      schemas: { Error: jsonSchema(errorAnswer, 'output') },
    },
  };
}
