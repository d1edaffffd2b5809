// The sender-mode follow-up message (docs/functions.md §3): it survives the wire, and a malformed one
// is refused with the field named (it then ends on the poison queue).
import { describe, expect, it } from 'vitest';
import { decodeQueueMessage, encodeJobMessage, InvalidJobMessageError, type CoverMessage } from '../../src/app/job-message';

const msg: CoverMessage = {
  type: 'cover',
  runId: 'daily-20260101T000000Z',
  entity: { kind: 'user', id: 'a1b2' },
  window: { fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 0, 2) },
  senderIds: ['m1', 'm2'],
  attempt: 1,
};

describe('cover message', () => {
  it('round-trips through the queue encoding', () => {
    expect(decodeQueueMessage(encodeJobMessage(msg))).toEqual(msg);
  });

  it('is refused without member ids, with a window the wrong way round, or for a team', () => {
    const wire = JSON.parse(Buffer.from(encodeJobMessage(msg), 'base64').toString('utf8')) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>) => () => decodeQueueMessage({ ...wire, ...patch });
    expect(bad({ senderIds: [] })).toThrow(/senderIds/);
    expect(bad({ window: { from: '2026-01-02T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' } })).toThrow(/from must be before to/);
    expect(bad({ entity: { kind: 'team', id: 't1' } })).toThrow(InvalidJobMessageError);
  });
});
