// Per-test storage names on the shared Azurite, so tests never see each other's blobs or rows.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export interface TestStorage {
  connectionString: string;
  /** A fresh, valid blob container name (not created yet). */
  container: string;
  /** A fresh table name prefix: letters and digits, starting with a letter. */
  tablePrefix: string;
}

/** Unique storage names for one test; `label` only makes them recognisable in Azurite. */
export function testStorage(label: string): TestStorage {
  const connectionString = inject('storageConnectionString');
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/, '');
  const unique = randomBytes(6).toString('hex');
  const container = `t-${slug ? `${slug}-` : ''}${unique}`;
  const letters = label.replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
  const tablePrefix = `t${letters}${unique}`;
  return { connectionString, container, tablePrefix };
}
