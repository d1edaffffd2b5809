// The content pool's schedule (src/export/content-pool.ts, docs/design.md §17), as a property: over any
// sequence of batches handed over (one conversation, several, or no hint), taken and finished in any order,
// every batch is taken exactly once, the schedule never says "nothing to take" while a batch could be
// taken, and what it takes belongs to a conversation with the most content left among those that may take
// one. The model below recomputes all of it from scratch at every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConversationSchedule } from '../../src/export/content-pool';

type Op = { op: 'add'; conversations: Array<[string, string[]]> } | { op: 'next' } | { op: 'done'; pick: number };

const conversationId = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const messageId = fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(conversationId, fc.uniqueArray(messageId, { maxLength: 4 })), { maxLength: 3 })
      .map((cs) => ({ op: 'add' as const, conversations: [...new Map(cs)] })),
  },
  { weight: 3, arbitrary: fc.constant({ op: 'next' as const }) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ op: 'done' as const, pick })) },
);

/** The model's batch: its conversations as the schedule sees them (no hint, or only empty lists: its own). */
interface ModelBatch {
  name: string;
  conversations: Map<string, string[]>;
  state: 'waiting' | 'active' | 'done';
  order: number;
}

function effective(name: string, cs: Array<[string, string[]]>): Map<string, string[]> {
  const m = new Map(cs.filter(([, ms]) => ms.length > 0));
  return m.size > 0 ? m : new Map([[`batch ${name}`, ['']]]);
}

class Model {
  readonly batches: ModelBatch[] = [];
  constructor(private readonly perConversation: number) {}

  /** Distinct messages of the conversation in batches waiting or in progress. */
  contentLeft(id: string): number {
    const ms = new Set<string>();
    for (const b of this.batches) if (b.state !== 'done') for (const m of b.conversations.get(id) ?? []) ms.add(m);
    return ms.size;
  }

  private activeOf(id: string): number {
    return this.batches.filter((b) => b.state === 'active' && b.conversations.has(id)).length;
  }

  /** Conversations that may take a batch now: some waiting, fewer than perConversation in progress. */
  serviceable(): string[] {
    const ids = new Set<string>();
    for (const b of this.batches) if (b.state === 'waiting') for (const id of b.conversations.keys()) ids.add(id);
    return [...ids].filter((id) => this.activeOf(id) < this.perConversation);
  }
}

describe('ConversationSchedule', () => {
  it('takes every batch once, never idles while one could be taken, and serves the most content left first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(opArb, { maxLength: 60 }), (perConversation, ops) => {
        const s = new ConversationSchedule(perConversation);
        const model = new Model(perConversation);
        const taken: string[] = [];
        const step = (op: Op) => {
          if (op.op === 'add') {
            const name = `batch-${model.batches.length}`;
            s.add(name, new Map(op.conversations));
            model.batches.push({ name, conversations: effective(name, op.conversations), state: 'waiting', order: model.batches.length });
          } else if (op.op === 'next') {
            const serviceable = model.serviceable();
            const got = s.next();
            if (got === undefined) {
              expect(serviceable, 'nothing taken while a conversation could take a batch').toEqual([]);
              return;
            }
            const b = model.batches.find((x) => x.name === got);
            expect(b?.state, `${got} taken while not waiting`).toBe('waiting');
            // It belongs to a serviceable conversation with the most content left.
            const best = Math.max(...serviceable.map((id) => model.contentLeft(id)));
            const via = [...b!.conversations.keys()].filter((id) => serviceable.includes(id) && model.contentLeft(id) === best);
            expect(via.length, `${got}: not of a conversation with the most content left (${best})`).toBeGreaterThan(0);
            // ... and is that conversation's oldest waiting batch.
            const oldest = via.some((id) => {
              const first = model.batches.find((x) => x.state === 'waiting' && x.conversations.has(id));
              return first?.name === got;
            });
            expect(oldest, `${got}: not the oldest waiting batch of its conversation`).toBe(true);
            b!.state = 'active';
            taken.push(got);
          } else {
            const active = model.batches.filter((x) => x.state === 'active');
            if (active.length === 0) return;
            const b = active[op.pick % active.length]!;
            s.done(b.name);
            b.state = 'done';
          }
          for (const id of ['a', 'b', 'c', 'd', 'e']) expect(s.contentLeft(id), `content left of ${id}`).toBe(model.contentLeft(id));
        };
        for (const op of ops) step(op);
        // Drain: take and finish everything; each batch exactly once.
        for (let guard = 0; guard < 1000; guard++) {
          step({ op: 'next' });
          const active = model.batches.filter((x) => x.state === 'active');
          if (active.length === 0 && model.batches.every((x) => x.state !== 'waiting')) break;
          if (active.length > 0) step({ op: 'done', pick: 0 });
        }
        expect(model.batches.filter((b) => b.state !== 'done').map((b) => b.name)).toEqual([]);
        expect(taken.sort()).toEqual(model.batches.map((b) => b.name).sort());
        expect(s.next()).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });
});
