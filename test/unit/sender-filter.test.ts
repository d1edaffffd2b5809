import { describe, expect, it } from 'vitest';
import { MAX_SENDER_IDS_PER_FILTER, othersFilters, ownMessagesFilter } from '../../src/export/sender-filter';

describe('sender filters', () => {
  it('asks for the messages one user sent, quoting the id as an OData literal', () => {
    expect(ownMessagesFilter('8b081ef6-4792-4def-b2c9-c363a1bf41d5')).toBe("from/user/id eq '8b081ef6-4792-4def-b2c9-c363a1bf41d5'");
    expect(ownMessagesFilter("o'brien")).toBe("from/user/id eq 'o''brien'");
  });

  it('covers every outside identity type, every application type and system events (spelled correctly)', () => {
    const [base] = othersFilters();
    for (const t of ['anonymousGuest', 'federatedUser', 'personalMicrosoftAccountUser', 'skypeUser', 'phoneUser']) expect(base).toContain(`from/user/userIdentityType eq '${t}'`);
    for (const t of ['aadApplication', 'bot', 'tenantBot', 'office365Connector', 'outgoingWebhook']) expect(base).toContain(`from/application/applicationIdentityType eq '${t}'`);
    expect(base).toContain("messageType eq 'systemEventMessage'");
    expect(base).not.toContain('messsageType');
    expect(base).not.toMatch(/ and /);
  });

  it('adds tenant users without their own export in bounded groups, each id once', () => {
    const ids = Array.from({ length: MAX_SENDER_IDS_PER_FILTER + 3 }, (_, i) => `g${i}`);
    const filters = othersFilters([...ids, 'g0']);
    expect(filters).toHaveLength(3);
    expect(filters[1]!.split(' or ')).toHaveLength(MAX_SENDER_IDS_PER_FILTER);
    expect(filters[2]!.split(' or ')).toHaveLength(3);
    expect(filters.join(' or ').match(/'g0'/g)).toHaveLength(1);
  });
});
