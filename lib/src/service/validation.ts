// Request validation with zod schemas at the fastify edge; handler types come from the same schemas.
import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import type { z } from 'zod';

/** Lets `app.withTypeProvider<ZodTypeProvider>()` type request parts from their zod schemas. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** Carries zod's issues to the error handler, which answers 400 INVALID_ARGUMENT with them. */
export class RequestValidationError extends Error {
  readonly issues: { path: string; message: string }[];
  constructor(part: string, issues: z.core.$ZodIssue[]) {
    const rendered = issues.map((issue) => ({
      path: [part, ...issue.path.map(String)].join('.'),
      message: issue.message,
    }));
    super(rendered.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
    this.name = 'RequestValidationError';
    this.issues = rendered;
  }
}

/** fastify validator compiler for zod schemas (body, querystring, params, headers). */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    return { error: new RequestValidationError(httpPart ?? 'request', result.error.issues) };
  };
