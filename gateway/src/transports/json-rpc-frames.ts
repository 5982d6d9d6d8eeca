// One JSON-RPC 2.0 frame in, its answer out: a request, a batch, or notifications (no answer);
// malformed frames get JSON-RPC's own error numbers, the contract's code in `error.data.code`.
import type { AppError } from '@notify/lib';
import { JSON_RPC_ERRORS } from '@notify/lib/rpc';
import type { Connection } from '../connections.ts';
import { INVALID_PARAMS, UNKNOWN_METHOD, rpcError, type Dispatcher } from '../rpc/dispatcher.ts';

type Id = string | number | null;
export interface Reply {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data: { code: string; details?: Record<string, unknown> } };
}

/** The answer to one frame (a reply, a batch of replies, or nothing for notifications only). */
export async function handleFrame(dispatcher: Dispatcher, connection: Connection, text: string | null): Promise<Reply | Reply[] | undefined> {
  if (text === null) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'binary frames are not JSON-RPC; send text');
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (error) {
    return failure(null, JSON_RPC_ERRORS.parseError, 'INVALID_ARGUMENT', `parse error: ${(error as Error).message}`);
  }
  if (Array.isArray(frame)) {
    if (frame.length === 0) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'an empty batch is not a request');
    const replies = await Promise.all(frame.map((item) => handleRequest(dispatcher, connection, item)));
    const answered = replies.filter((reply): reply is Reply => reply !== undefined);
    return answered.length ? answered : undefined;
  }
  return handleRequest(dispatcher, connection, frame);
}

async function handleRequest(dispatcher: Dispatcher, connection: Connection, frame: unknown): Promise<Reply | undefined> {
  if (typeof frame !== 'object' || frame === null) {
    return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'a request must be a JSON object');
  }
  const request = frame as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const hasId = Object.hasOwn(request, 'id');
  const id = validId(request.id) ? request.id : null;
  if (request.jsonrpc !== '2.0') return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'jsonrpc must be "2.0"');
  if (hasId && !validId(request.id)) return failure(null, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'id must be a string, a number or null');
  if (typeof request.method !== 'string') return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'method must be a string');
  // JSON-RPC 2.0 §4.2: params, when present, is a structured value (object or array); anything else
  // makes the request itself invalid, not just its parameters.
  if (request.params !== undefined && (typeof request.params !== 'object' || request.params === null)) {
    return failure(id, JSON_RPC_ERRORS.invalidRequest, 'INVALID_ARGUMENT', 'params must be an object or an array');
  }
  try {
    const result = await dispatcher.call(connection, request.method, request.params);
    return hasId ? { jsonrpc: '2.0', id, result } : undefined;
  } catch (error) {
    if (!hasId) return undefined;
    const appError = error as AppError;
    const reason = appError.details.reason;
    const number = reason === UNKNOWN_METHOD ? JSON_RPC_ERRORS.methodNotFound : reason === INVALID_PARAMS ? JSON_RPC_ERRORS.invalidParams : JSON_RPC_ERRORS.applicationError;
    const wire = rpcError(appError);
    return { jsonrpc: '2.0', id, error: { code: number, message: wire.message, data: { code: wire.code, ...(wire.details ? { details: wire.details } : {}) } } };
  }
}

function failure(id: Id, number: number, code: string, message: string): Reply {
  return { jsonrpc: '2.0', id, error: { code: number, message, data: { code } } };
}

function validId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}
