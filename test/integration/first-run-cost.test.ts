// What a first run costs when EXPORT_START lies years back (issue 14, docs/design.md §4): an entity
// with no messages costs one request per pass, whatever the span; one with messages costs the pages
// its data needs, not one request per 30 days of calendar. And the day after, an idle entity costs one
// request per pass again. Counted by the emulator per entity, checked against the archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { DAY, HOUR } from '../../src/time';
import type { Entity } from '../../src/model/entity';

const PAGE = 5;
const nowMs = Date.now();

describe('first-run cost follows the data, not the calendar', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      label: 'first-run-cost',
      tenant: {
        seed: 41,
        users: 16,
        teams: 3,
        oneOnOneChats: 4,
        groupChats: 1,
        meetingChats: 0,
        messagesPerChat: 30,
        postsPerChannel: 8,
        historyDays: 60,
        endMs: nowMs - 2 * HOUR,
        hostedContentFraction: 0,
        fileFraction: 0,
      },
      // Ten years of calendar before the first message.
      env: {
        EXPORT_START: '2016-01-01T00:00:00Z',
        GRAPH_PAGE_SIZE: String(PAGE),
        EXPORT_HOSTED_CONTENTS: 'false',
        EXPORT_ATTACHMENTS: 'false',
      },
    });
  });
  afterAll(() => h?.close());

  const key = (e: Entity) => `${e.kind}:${e.id}`;
  const emptyEntities: string[] = [];

  it('an empty entity costs one request per pass; one with data the pages its versions fill, plus one per pass', async () => {
    h.emulator.resetCounters();
    const outcome = await h.daily(nowMs);
    expect(outcome.status).toBe('succeeded');
    const pages = h.emulator.counters.exportRequestsByEntity;
    const skipped = new Set(outcome.results.filter((r) => r.status !== 'done').map((r) => key(r.entity)));
    let empty = 0;
    let busy = 0;
    for (const entity of h.entities()) {
      if (skipped.has(key(entity))) continue; // skipped (404: no Teams data)
      const versions = new Set(await h.archivedKeys(entity)).size;
      if (versions === 0) {
        empty++;
        emptyEntities.push(key(entity));
        expect({ entity: key(entity), requests: pages[entity.id] }).toEqual({ entity: key(entity), requests: 2 });
      } else {
        busy++;
        // Two passes over one whole-history read: at most one partly filled page more per pass.
        expect(pages[entity.id]).toBeLessThanOrEqual(Math.ceil(versions / PAGE) + 2);
      }
    }
    expect(empty).toBeGreaterThan(0);
    expect(busy).toBeGreaterThan(0);
  });

  it('the day after, an idle entity costs one request per pass', async () => {
    h.emulator.resetCounters();
    const outcome = await h.daily(nowMs + DAY);
    expect(outcome.status).toBe('succeeded');
    const requests = h.emulator.counters.exportRequestsByEntity;
    expect(emptyEntities.length).toBeGreaterThan(0);
    for (const k of emptyEntities)
      expect({ entity: k, requests: requests[k.slice(k.indexOf(':') + 1)] }).toEqual({ entity: k, requests: 2 });
  });
});
