import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTER_MAX_CLAUSES, othersFilters, ownMessagesFilter, senderIdFilters } from '../../src/export/sender-filter';

describe('sender filters', () => {
  it('asks for the messages one user sent, quoting the id as an OData literal', () => {
    expect(ownMessagesFilter('8b081ef6-4792-4def-b2c9-c363a1bf41d5')).toBe("from/user/id eq '8b081ef6-4792-4def-b2c9-c363a1bf41d5'");
    expect(ownMessagesFilter("o'brien")).toBe("from/user/id eq 'o''brien'");
  });

  it('covers every outside identity type, every application type and system events (spelled correctly)', () => {
    const [base] = othersFilters();
    for (const t of ['anonymousGuest', 'federatedUser', 'personalMicrosoftAccountUser', 'skypeUser', 'phoneUser'])
      expect(base).toContain(`from/user/userIdentityType eq '${t}'`);
    for (const t of ['aadApplication', 'bot', 'tenantBot', 'office365Connector', 'outgoingWebhook'])
      expect(base).toContain(`from/application/applicationIdentityType eq '${t}'`);
    expect(base).toContain("messageType eq 'systemEventMessage'");
    expect(base).not.toContain('messsageType');
    expect(base).not.toMatch(/ and /);
  });

  it('adds tenant members without their own export, never more than the clause bound per request, each id once', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `g${i}`);
    const filters = othersFilters([...ids, 'g0'], DEFAULT_FILTER_MAX_CLAUSES);
    // 11 type clauses + 30 ids = 41 clauses in groups of 15
    expect(filters.map((f) => f.split(' or ').length)).toEqual([15, 15, 11]);
    expect(filters.join(' or ').match(/'g0'/g)).toHaveLength(1);
    expect(othersFilters([], 4).map((f) => f.split(' or ').length)).toEqual([4, 4, 3]);
  });

  it('asks for given senders only, split by the bound', () => {
    expect(senderIdFilters(['a', 'b', 'c'], 2)).toEqual(["from/user/id eq 'a' or from/user/id eq 'b'", "from/user/id eq 'c'"]);
    expect(senderIdFilters([], 2)).toEqual([]);
    expect(() => senderIdFilters(['a'], 0)).toThrow(RangeError);
  });
});
