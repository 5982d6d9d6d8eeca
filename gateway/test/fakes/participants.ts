// Fake two-phase-commit participants for in-process gateway tests: what the kit's Coordinator
// reaches through `participant(name)`, answered in memory. Each request is checked against the
// protocol's schemas and each payload against its action's contract (a payload that does not
// match is a no vote, as the real participant votes); votes are yes unless the test says
// otherwise; every prepare and decision is recorded. State follows the real participant's rules:
// a commit of what was never prepared is NOT_FOUND, a rollback of it is presumed abort, a
// decision against an earlier one is CONFLICT.
import { randomUUID } from 'node:crypto';
import { createError, isErrorCode, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '@notify/lib';
import {
  counterActions,
  decisionBatchRequest,
  decisionRequest,
  persistActions,
  prepareBatchRequest,
  prepareRequest,
  type ActionContract,
  type BatchDecision,
  type BatchVote,
  type ErrorCode,
  type ItemError,
  type ParticipantTransaction,
} from '@notify/lib/contracts';
import type { z } from 'zod';

type State = 'prepared' | 'committed' | 'aborted';

export interface Prepared {
  service: string;
  txId: string;
  action: string;
  /** The payload as the action's contract parsed it. */
  payload: unknown;
}

/** A vote on one prepared item: nothing for yes, the error for no. */
type VoteRule<P> = (payload: P, txId: string) => ItemError | undefined;

export class FakeParticipants {
  /** Every prepare that reached a participant (also those voted no), in order. */
  readonly prepared: Prepared[] = [];
  /** Every request, as `service METHOD path`, in order. */
  readonly requests: string[] = [];
  private readonly states = new Map<string, Map<string, State>>();
  private readonly actions = new Map<string, ActionContract>();
  private readonly rules = new Map<string, VoteRule<unknown>>();

  constructor(actions: readonly ActionContract[] = [...Object.values(persistActions), ...Object.values(counterActions)]) {
    for (const action of actions) this.actions.set(key(action.service, action.action), action);
  }

  /** How this action's prepares are voted from now on (the payload as its contract parses it). */
  voteOn<A extends ActionContract>(action: A, rule: VoteRule<z.output<A['payload']>>): void {
    this.rules.set(key(action.service, action.action), rule as VoteRule<unknown>);
  }

  /** The transactions `service` has in `state` now. */
  inState(service: string, state: State): string[] {
    return [...(this.states.get(service) ?? [])].filter(([, current]) => current === state).map(([txId]) => txId);
  }

  /**
   * The Coordinator's `participant` option. The coordinator sends only `request`; the fake is
   * an UpstreamClient in that respect alone (the class has private members, so it is cast).
   */
  readonly participant = (service: string): UpstreamClient => {
    const client: Pick<UpstreamClient, 'request'> = { request: (request) => this.request(service, request) };
    return client as UpstreamClient;
  };

  private async request<T>(service: string, request: UpstreamRequest): Promise<UpstreamResponse<T>> {
    this.requests.push(`${service} ${request.method} ${request.path}`);
    // As on the wire: the participant sees its own copy of the body.
    const body = JSON.parse(JSON.stringify(request.body ?? null)) as unknown;
    const answer = (value: unknown): UpstreamResponse<T> => ({ status: 200, body: value as T, instance: `${service}-fake` });
    switch (`${request.method} ${request.path}`) {
      case 'POST /api/prepare_2pc': {
        const vote = this.prepare(service, check(prepareRequest, body));
        if (vote.vote === 'no') throw createError({ code: codeOf(vote.error.code), message: vote.error.message, details: vote.error.details ?? {} });
        return answer({ vote: 'yes', request_id: vote.request_id });
      }
      case 'POST /api/prepare_2pc/batch':
        return answer({ votes: check(prepareBatchRequest, body).items.map((item) => this.prepare(service, item)) });
      case 'POST /api/commit_2pc':
      case 'DELETE /api/rollback_2pc': {
        const result = this.decide(service, check(decisionRequest, body).txId, request.path === '/api/commit_2pc' ? 'committed' : 'aborted');
        if (!result.ack) throw createError({ code: codeOf(result.error.code), message: result.error.message, details: result.error.details ?? {} });
        return answer({ ack: true, transaction: result.transaction });
      }
      case 'POST /api/commit_2pc/batch':
      case 'POST /api/rollback_2pc/batch': {
        const outcome = request.path === '/api/commit_2pc/batch' ? 'committed' : 'aborted';
        return answer({ results: check(decisionBatchRequest, body).txIds.map((txId) => this.decide(service, txId, outcome)) });
      }
      default:
        throw createError({ code: 'NOT_FOUND', message: `${service} has no participant route ${request.method} ${request.path}` });
    }
  }

  private prepare(service: string, item: z.output<typeof prepareRequest>): BatchVote {
    const action = this.actions.get(key(service, item.action));
    const states = this.statesOf(service);
    const no = (error: ItemError): BatchVote => {
      this.prepared.push({ service, txId: item.txId, action: item.action, payload: item.payload });
      return { txId: item.txId, vote: 'no', error };
    };
    if (!action) return no({ code: 'INVALID_ARGUMENT', message: `${service} has no action ${item.action}` });
    const payload = action.payload.safeParse(item.payload);
    if (!payload.success) return no({ code: 'INVALID_ARGUMENT', message: `payload of ${item.action} does not match its contract`, details: { issues: payload.error.issues } });
    const state = states.get(item.txId);
    if (state === 'prepared') return { txId: item.txId, vote: 'yes', request_id: item.txId };
    if (state) return no({ code: 'CONFLICT', message: `transaction ${item.txId} is ${state}`, details: { txId: item.txId } });
    this.prepared.push({ service, txId: item.txId, action: item.action, payload: payload.data });
    const refusal = this.rules.get(key(service, item.action))?.(payload.data, item.txId);
    if (refusal) return { txId: item.txId, vote: 'no', error: refusal };
    states.set(item.txId, 'prepared');
    return { txId: item.txId, vote: 'yes', request_id: randomUUID() };
  }

  private decide(service: string, txId: string, outcome: 'committed' | 'aborted'): BatchDecision {
    const states = this.statesOf(service);
    const state = states.get(txId);
    if (state === undefined && outcome === 'committed') return { txId, ack: false, error: { code: 'NOT_FOUND', message: `no prepared transaction ${txId}`, details: { txId } } };
    if (state !== undefined && state !== 'prepared' && state !== outcome) return { txId, ack: false, error: { code: 'CONFLICT', message: `transaction ${txId} is already ${state}`, details: { txId, state } } };
    states.set(txId, outcome);
    const now = new Date().toISOString();
    const transaction: ParticipantTransaction = { txId, requestId: txId, action: null, state: outcome, preparedAt: now, decidedAt: now, reason: null };
    return { txId, ack: true, transaction };
  }

  private statesOf(service: string): Map<string, State> {
    let states = this.states.get(service);
    if (!states) this.states.set(service, (states = new Map()));
    return states;
  }
}

function key(service: string, action: string): string {
  return `${service}\u0000${action}`;
}

/** A malformed request is a 400, as the participant's routes answer it. */
function check<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw createError({ code: 'INVALID_ARGUMENT', message: `participant request does not match the protocol: ${parsed.error.message}` });
  return parsed.data;
}

function codeOf(code: string): ErrorCode {
  return isErrorCode(code) ? code : 'INTERNAL';
}
