import { describe, expect, it } from 'vitest';
import { classifyFailure, ForeignOriginError, GraphError, MalformedResponseError } from '../../src/graph/graph-errors';

describe('classifyFailure', () => {
  it.each([429, 500, 502, 503, 504])('%i is retryable', (status) => {
    expect(classifyFailure(status, undefined)).toBe('retryable');
  });

  it('a failure without a response (network, timeout) is retryable', () => {
    expect(classifyFailure(undefined, undefined)).toBe('retryable');
  });

  it.each([404, 403])('%i skips only the entity', (status) => {
    expect(classifyFailure(status, 'Forbidden')).toBe('skip-entity');
  });

  it.each([400, 401, 402, 412, 418, 501])('%i is fatal', (status) => {
    expect(classifyFailure(status, undefined)).toBe('fatal');
  });

  it('a 400 stays fatal even with a "no mailbox" code, because 400 means our request is wrong', () => {
    expect(classifyFailure(400, 'ErrorInvalidUser')).toBe('fatal');
  });

  it('a "no mailbox" code on another 4xx skips the entity', () => {
    expect(classifyFailure(409, 'MailboxNotEnabledForRESTAPI')).toBe('skip-entity');
  });
});

describe('GraphError', () => {
  it('carries status, code, request-id and a kind derived from the status', () => {
    const err = new GraphError('boom', { status: 404, code: 'ResourceNotFound', requestId: 'r1', path: '/users/x' });
    expect(err).toMatchObject({ status: 404, code: 'ResourceNotFound', requestId: 'r1', path: '/users/x', kind: 'skip-entity', name: 'GraphError' });
  });

  it('foreign-origin and malformed-response errors are always fatal', () => {
    expect(new ForeignOriginError('x').kind).toBe('fatal');
    expect(new MalformedResponseError('x', { status: 200 }).kind).toBe('fatal');
    expect(new MalformedResponseError('x')).toBeInstanceOf(GraphError);
    expect(new ForeignOriginError('x').name).toBe('ForeignOriginError');
  });
});
