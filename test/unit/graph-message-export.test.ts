import { describe, expect, it } from 'vitest';
import { EXPORT_HEADERS, messageExportPath } from '../../src/graph/message-export';

const from = Date.parse('2020-06-04T18:03:11.591Z');
const to = Date.parse('2020-06-05T21:00:00.000Z');

describe('messageExportPath', () => {
  it("asks for a user's chats with gt (from − 1 ms) and lt to, spaces as %20", () => {
    const path = messageExportPath({ kind: 'user', id: 'u-1' }, { fromMs: from, toMs: to }, 50);
    expect(path).toBe(
      '/users/u-1/chats/getAllMessages?$top=50&$filter=lastModifiedDateTime%20gt%202020-06-04T18%3A03%3A11.590Z%20and%20lastModifiedDateTime%20lt%202020-06-05T21%3A00%3A00.000Z',
    );
  });

  it('decodes to the exact documented filter text', () => {
    const path = messageExportPath({ kind: 'team', id: 't-1' }, { fromMs: from, toMs: to }, 250);
    const url = new URL(`https://graph.example${path}`);
    expect(url.pathname).toBe('/teams/t-1/channels/getAllMessages');
    expect(url.searchParams.get('$top')).toBe('250');
    expect(url.searchParams.get('$filter')).toBe(
      'lastModifiedDateTime gt 2020-06-04T18:03:11.590Z and lastModifiedDateTime lt 2020-06-05T21:00:00.000Z',
    );
  });

  it('a window starting at midnight asks for gt 23:59:59.999 of the day before', () => {
    const path = messageExportPath(
      { kind: 'user', id: 'u' },
      { fromMs: Date.parse('2024-03-01T00:00:00Z'), toMs: Date.parse('2024-03-02T00:00:00Z') },
      50,
    );
    expect(new URL(`https://g${path}`).searchParams.get('$filter')).toContain('gt 2024-02-29T23:59:59.999Z');
  });

  it('encodes ids so they cannot change the path or query', () => {
    const path = messageExportPath({ kind: 'user', id: 'a/b?c#d e' }, { fromMs: from, toMs: to }, 50);
    expect(path.startsWith('/users/a%2Fb%3Fc%23d%20e/chats/getAllMessages?')).toBe(true);
  });

  it('rejects an empty or inverted window and a bad $top', () => {
    expect(() => messageExportPath({ kind: 'user', id: 'u' }, { fromMs: to, toMs: to }, 50)).toThrow(RangeError);
    expect(() => messageExportPath({ kind: 'user', id: 'u' }, { fromMs: to, toMs: from }, 50)).toThrow(RangeError);
    expect(() => messageExportPath({ kind: 'user', id: 'u' }, { fromMs: from, toMs: to }, 0)).toThrow(RangeError);
  });

  it('export requests ask Graph to name system events instead of unknownFutureValue', () => {
    expect(EXPORT_HEADERS).toEqual({ Prefer: 'include-unknown-enum-members' });
  });
});
