import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/state/checkpoint-store';
import { tableNames } from '../../src/state/run-store';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const HOUR = 3_600_000;

describe('CheckpointStore', () => {
  let store: CheckpointStore;
  let otherInstance: CheckpointStore;

  beforeAll(async () => {
    const s = testStorage('checkpoints');
    const name = tableNames(s.tablePrefix).checkpoints;
    // Two clients and stores over the same table, as two Function instances would have.
    store = new CheckpointStore(createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).table(name));
    otherInstance = new CheckpointStore(
      createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).table(name),
    );
    await store.ensure();
    await otherInstance.ensure(); // already exists: not an error
  });

  it('has no checkpoint for an entity never exported', async () => {
    expect(await store.get({ kind: 'user', id: 'never' })).toBeUndefined();
  });

  it('creates the checkpoint on first advance and counts messages', async () => {
    const entity: Entity = { kind: 'user', id: 'first', displayName: 'First User' };
    const cp = await store.advance(entity, { freshWatermarkMs: T0 + HOUR }, 5);
    expect(cp).toMatchObject({ entity, freshWatermarkMs: T0 + HOUR, totalMessages: 5 });
    expect(cp.settledWatermarkMs).toBeUndefined();
    const read = await store.get({ kind: 'user', id: 'first' });
    expect(read).toMatchObject({ entity, freshWatermarkMs: T0 + HOUR, totalMessages: 5 });
    expect(read?.settledWatermarkMs).toBeUndefined();
  });

  it('moves watermarks forward only: an older value keeps the newer one', async () => {
    const entity: Entity = { kind: 'team', id: 'fwd' };
    await store.advance(entity, { freshWatermarkMs: T0 + 10 * HOUR, settledWatermarkMs: T0 + 2 * HOUR }, 1);
    const after = await store.advance(entity, { freshWatermarkMs: T0 + 3 * HOUR, settledWatermarkMs: T0 + 5 * HOUR }, 2);
    expect(after).toMatchObject({ freshWatermarkMs: T0 + 10 * HOUR, settledWatermarkMs: T0 + 5 * HOUR, totalMessages: 3 });
    expect(await store.get(entity)).toMatchObject({
      freshWatermarkMs: T0 + 10 * HOUR,
      settledWatermarkMs: T0 + 5 * HOUR,
      totalMessages: 3,
    });
    // Advancing only one watermark leaves the other as it was.
    await store.advance(entity, { settledWatermarkMs: T0 + 6 * HOUR });
    expect(await store.get(entity)).toMatchObject({
      freshWatermarkMs: T0 + 10 * HOUR,
      settledWatermarkMs: T0 + 6 * HOUR,
      totalMessages: 3,
    });
  });

  it('ends at the maximum when two instances advance the same entity concurrently', async () => {
    const entity: Entity = { kind: 'user', id: 'race' };
    const steps = Array.from({ length: 12 }, (_, i) => i + 1);
    // Interleaved, out of order, from both stores at once, including the very first (create) write.
    await Promise.all(
      steps.map((i) =>
        (i % 2 === 0 ? store : otherInstance).advance(
          entity,
          { freshWatermarkMs: T0 + ((i * 7) % 13) * HOUR, settledWatermarkMs: T0 + i * HOUR },
          1,
        ),
      ),
    );
    const final = await store.get(entity);
    expect(final?.freshWatermarkMs).toBe(T0 + Math.max(...steps.map((i) => (i * 7) % 13)) * HOUR);
    expect(final?.settledWatermarkMs).toBe(T0 + 12 * HOUR);
    expect(final?.totalMessages).toBe(12);
  });

  it('records results without touching the watermarks, and clears an old error on success', async () => {
    const entity: Entity = { kind: 'user', id: 'result' };
    await store.advance(entity, { freshWatermarkMs: T0 + HOUR, settledWatermarkMs: T0 }, 4);
    await store.recordResult(entity, { runId: 'r1', status: 'skipped', errorCode: 'Forbidden', error: 'x'.repeat(100_000) });
    const failed = await store.get(entity);
    expect(failed).toMatchObject({
      freshWatermarkMs: T0 + HOUR,
      settledWatermarkMs: T0,
      totalMessages: 4,
      lastRunId: 'r1',
      lastStatus: 'skipped',
      lastErrorCode: 'Forbidden',
    });
    expect(failed?.lastError?.length).toBeLessThanOrEqual(4000);
    await store.recordResult(entity, { runId: 'r2', status: 'done' });
    const ok = await store.get(entity);
    expect(ok).toMatchObject({
      freshWatermarkMs: T0 + HOUR,
      settledWatermarkMs: T0,
      totalMessages: 4,
      lastRunId: 'r2',
      lastStatus: 'done',
    });
    expect(ok?.lastErrorCode).toBeUndefined();
    expect(ok?.lastError).toBeUndefined();
  });

  it('records a result for an entity that has no watermark yet', async () => {
    const entity: Entity = { kind: 'team', id: 'skipped-first' };
    await store.recordResult(entity, { runId: 'r1', status: 'skipped', errorCode: 'NotFound' });
    const cp = await store.get(entity);
    expect(cp).toMatchObject({ entity: { kind: 'team', id: 'skipped-first' }, lastStatus: 'skipped', totalMessages: 0 });
    expect(cp?.freshWatermarkMs).toBeUndefined();
  });

  it('keeps an open read of 400,000 characters, and a shorter one after it leaves no tail (issue 20, defect 8)', async () => {
    const entity: Entity = { kind: 'user', id: 'big-read' };
    const long = JSON.stringify({ links: 'x'.repeat(400_000) });
    await store.advance(entity, { freshWatermarkMs: 1 }, 0, { readState: long });
    expect((await store.get(entity))?.readState).toBe(long);
    await store.advance(entity, {}, 0, { readState: '{"short":true}' });
    expect((await store.get(entity))?.readState).toBe('{"short":true}');
    await store.advance(entity, {}, 0, { readState: null });
    expect((await store.get(entity))?.readState).toBeUndefined();
  });

  it('keeps hostile ids apart and lists every checkpoint with its real id', async () => {
    const ids = ['a/b', 'a\\b', '#?', 'A', 'a', '19:x@thread.v2', '\u0001'];
    for (const [i, id] of ids.entries()) await store.advance({ kind: 'user', id }, { freshWatermarkMs: T0 + i }, i);
    for (const [i, id] of ids.entries())
      expect(await store.get({ kind: 'user', id })).toMatchObject({ freshWatermarkMs: T0 + i, totalMessages: i });
    const listed = [];
    for await (const cp of store.list()) listed.push(cp);
    for (const id of ids) expect(listed.filter((cp) => cp.entity.kind === 'user' && cp.entity.id === id)).toHaveLength(1);
    expect(listed.some((cp) => cp.entity.kind === 'team' && cp.entity.id === 'fwd')).toBe(true);
  });
});
