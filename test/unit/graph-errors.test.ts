import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACT_ERROR_SHAPES,
  artifactErrorShape,
  ERROR_SHAPES,
  errorShape,
  type ArtifactErrorShapeName,
  type ErrorShapeName,
} from '../../emulator/error-shapes';
import {
  classifyFailure,
  ForeignOriginError,
  GraphError,
  MalformedResponseError,
  parseErrorBody,
  SKIP_REASON_TEXT,
  type Classification,
} from '../../src/graph/graph-errors';

/** The classification column's words for what classifyFailure returns. */
function words(c: Classification): string {
  if (c.restartRead) return 'restart-read';
  return c.reason ? `${c.kind} ${c.reason}` : c.kind;
}

/** The rows of the table in docs/graph-errors.md that name a shape. */
function docRows(): Array<{ name: string; status: number; code: string; message: string; classification: string }> {
  const text = readFileSync(join(__dirname, '../../docs/graph-errors.md'), 'utf8');
  return [...text.matchAll(/^\| `(\w+)` \| (\d+) \| `([^`]+)` \| (.+?) \| ([a-z -]+) \| .+ \|$/gm)].map((m) => ({
    name: m[1] as string,
    status: Number(m[2]),
    code: m[3] as string,
    message: m[4] as string,
    classification: m[5] as string,
  }));
}

describe('classifyFailure on the real error shapes (docs/graph-errors.md)', () => {
  it.each(Object.keys(ERROR_SHAPES) as ErrorShapeName[])('%s is classified as the table says', (name) => {
    const shape = errorShape(name, '0b4f1cf6-54c8-4820-bbb7-2a1f4257ade5');
    expect(words(classifyFailure(shape.status, shape.code, shape.message))).toBe(ERROR_SHAPES[name].classification);
  });

  it.each(Object.keys(ARTIFACT_ERROR_SHAPES) as ArtifactErrorShapeName[])(
    'Copilot/meeting shape %s is classified as the emulator table says (inner code carried as the HTTP client does)',
    (name) => {
      const shape = artifactErrorShape(name, { id: '0b4f1cf6-54c8-4820-bbb7-2a1f4257ade5', roles: 'User.Read.All' });
      // graph-http.ts appends innerError.code to the message it classifies.
      const message = shape.innerCode ? `${shape.message} [${shape.innerCode}]` : shape.message;
      const expected = ARTIFACT_ERROR_SHAPES[name].classification;
      // A content-level refusal (speaker attribution) is never an entity's: only listings are classified here.
      if (expected === 'fatal' && shape.status === 403) return;
      expect(words(classifyFailure(shape.status, shape.code, message))).toBe(expected);
    },
  );

  it('the transcript switch is recognised by its inner code whatever the message says, and names the fix', () => {
    const c = classifyFailure(403, 'Forbidden', 'Forbidden. [GraphAccessToTranscriptsDisabled]');
    expect(c.kind).toBe('app-refusal');
    expect(c.fix).toContain('GraphAccessToTranscriptsDisabled');
    const policy = classifyFailure(403, 'Forbidden', ARTIFACT_ERROR_SHAPES.noAccessPolicy.message.replace('{id}', 'u1'));
    expect(policy.fix).toContain('Grant-CsApplicationAccessPolicy');
  });

  it('a Teams licence refusal is not taken for a Copilot one', () => {
    expect(classifyFailure(403, 'Forbidden', ERROR_SHAPES.noLicence.message).reason).toBe('no-teams-licence');
    expect(classifyFailure(403, 'Forbidden', ARTIFACT_ERROR_SHAPES.noCopilotLicence.message).reason).toBe('no-copilot-licence');
  });

  it('parseErrorBody keeps innerError.code', () => {
    expect(
      parseErrorBody({ error: { code: 'Forbidden', message: 'm', innerError: { code: 'GraphAccessToTranscriptsDisabled' } } }),
    ).toEqual({
      code: 'Forbidden',
      message: 'm',
      innerCode: 'GraphAccessToTranscriptsDisabled',
    });
  });

  it('the doc table and the emulator table list the same shapes, statuses, codes, messages and classifications', () => {
    const fromDoc = Object.fromEntries(docRows().map(({ name, ...rest }) => [name, rest]));
    const fromEmulator = Object.fromEntries(
      Object.entries(ERROR_SHAPES).map(([name, s]) => [
        name,
        { status: s.status, code: s.code, message: s.message, classification: s.classification },
      ]),
    );
    expect(fromDoc).toEqual(fromEmulator);
  });

  it('names the roles Graph asks for, in the current and the older wording', () => {
    const now = classifyFailure(
      403,
      'Forbidden',
      "Missing role permissions on the request. API requires one of 'ChannelMessage.Read.All'. Roles on the request ''.",
    );
    expect(now).toMatchObject({ kind: 'app-refusal' });
    expect(now.fix).toContain('ChannelMessage.Read.All');
    const old = classifyFailure(
      403,
      'Forbidden',
      "Missing role permissions on the request. API required one of 'Chat.Read.All'. Roles on the request 'Chat.ReadWrite.All'",
    );
    expect(old.fix).toContain('Chat.Read.All');
    expect(old.fix).not.toContain('Chat.ReadWrite.All');
  });

  it.each([429, 500, 502, 503, 504, 408])('%i is retryable whatever the code', (status) => {
    expect(classifyFailure(status, 'Forbidden', 'Missing role permissions on the request.').kind).toBe('retryable');
  });

  it('a failure without a response (network, timeout) is retryable', () => {
    expect(classifyFailure(undefined).kind).toBe('retryable');
  });

  it.each([400, 403, 404, 409])('a no-data code skips the entity with any 4xx (%i), checked before the status', (status) => {
    expect(classifyFailure(status, 'ErrorInvalidUser')).toEqual({ kind: 'skip-entity', reason: 'invalid-user' });
    expect(classifyFailure(status, 'MailboxNotEnabledForRESTAPI')).toEqual({ kind: 'skip-entity', reason: 'no-mailbox' });
  });

  it('an unrecognised 403 skips the entity as forbidden; an unrecognised 404 as gone', () => {
    expect(classifyFailure(403, 'Forbidden')).toEqual({ kind: 'skip-entity', reason: 'forbidden' });
    expect(classifyFailure(404, 'ResourceNotFound')).toEqual({ kind: 'skip-entity', reason: 'entity-gone' });
  });

  it('"Requested API is not supported" is an app refusal on 400 too', () => {
    expect(classifyFailure(400, 'BadRequest', 'Requested API is not supported. Please check the path.').kind).toBe('app-refusal');
  });

  it.each([400, 401, 402, 412, 418, 501])('%i with no recognised code or message is fatal', (status) => {
    expect(classifyFailure(status, undefined)).toEqual({ kind: 'fatal' });
  });
});

describe('GraphError', () => {
  it('carries status, code, request-id and a kind derived from status, code and message', () => {
    const err = new GraphError('boom', { status: 404, code: 'ResourceNotFound', requestId: 'r1', path: '/users/x' });
    expect(err).toMatchObject({
      status: 404,
      code: 'ResourceNotFound',
      requestId: 'r1',
      path: '/users/x',
      kind: 'skip-entity',
      reason: 'entity-gone',
      restartRead: false,
      name: 'GraphError',
    });
  });

  it('an app refusal leads its message with the fix', () => {
    const s = errorShape('missingChannelRole');
    const err = new GraphError('GET /v1.0/teams/t1/channels/getAllMessages failed with 403', {
      status: s.status,
      code: s.code,
      graphMessage: s.message,
    });
    expect(err.kind).toBe('app-refusal');
    expect(err.message).toMatch(
      /^the app lacks the Graph application permission ChannelMessage\.Read\.All: grant it .* \(GET \/v1\.0\/teams/,
    );
  });

  it('foreign-origin and malformed-response errors are always fatal', () => {
    expect(new ForeignOriginError('x').kind).toBe('fatal');
    expect(new MalformedResponseError('x', { status: 200 }).kind).toBe('fatal');
    expect(new MalformedResponseError('x')).toBeInstanceOf(GraphError);
    expect(new ForeignOriginError('x').name).toBe('ForeignOriginError');
  });
});

describe('parseErrorBody', () => {
  it('reads code, message and the request-id from innerError (either casing), ignoring anything else', () => {
    expect(parseErrorBody({ error: { code: 'Forbidden', message: 'm', innerError: { 'request-id': 'r1' } } })).toEqual({
      code: 'Forbidden',
      message: 'm',
      requestId: 'r1',
    });
    expect(parseErrorBody({ error: { code: 'X', innererror: { 'request-id': 'r2' } } })).toEqual({ code: 'X', requestId: 'r2' });
    expect(parseErrorBody({ error: { code: '', message: 7 } })).toEqual({});
    expect(parseErrorBody('not json')).toEqual({});
    expect(parseErrorBody(undefined)).toEqual({});
  });
});

describe('skip reasons in plain words (docs/graph-errors.md, "Skip reasons in the run report")', () => {
  it('the doc table gives every skip reason the words the run report prints, for users and for teams', () => {
    const text = readFileSync(join(__dirname, '../../docs/graph-errors.md'), 'utf8');
    const section = text.slice(text.indexOf('## Skip reasons in the run report'), text.indexOf('## Token endpoint'));
    const fromDoc = Object.fromEntries(
      [...section.matchAll(/^\| `([a-z-]+)` \| (.+?) \| (.+?) \|$/gm)].map((m) => [m[1], { users: m[2], teams: m[3] }]),
    );
    expect(fromDoc).toEqual(SKIP_REASON_TEXT);
  });

  it('every reason the classifier skips with has its words', () => {
    const reasons = new Set(
      Object.keys(ERROR_SHAPES).flatMap((name) => {
        const shape = errorShape(name as ErrorShapeName, '0b4f1cf6-54c8-4820-bbb7-2a1f4257ade5');
        const reason = classifyFailure(shape.status, shape.code, shape.message).reason;
        return reason ? [reason] : [];
      }),
    );
    for (const name of Object.keys(ARTIFACT_ERROR_SHAPES) as ArtifactErrorShapeName[]) {
      const shape = artifactErrorShape(name, { id: 'u1' });
      const reason = classifyFailure(shape.status, shape.code, shape.message).reason;
      if (reason) reasons.add(reason);
    }
    reasons.add(classifyFailure(403, 'Forbidden').reason!);
    expect([...reasons].sort()).toEqual(Object.keys(SKIP_REASON_TEXT).sort());
  });
});
