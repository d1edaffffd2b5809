// Builds the Azure Storage SDK clients (Blob, Table, Queue) from the storage settings: a connection
// string (Azurite, keys) or service URIs with an identity credential (managed identity in Azure).
import type { TokenCredential } from '@azure/identity';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { StorageConnection } from './settings';

export interface StorageClients {
  blobService: BlobServiceClient;
  /** A client for one table (the table itself is created by the stores' ensure()). */
  table(name: string): TableClient;
  /** Undefined when identity-based settings name no queue service. */
  queueService: QueueServiceClient | undefined;
}

/** Reads one `Key=Value` field of a connection string (keys are case-insensitive). */
function connectionStringField(cs: string, key: string): string | undefined {
  for (const part of cs.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim().toLowerCase() === key.toLowerCase()) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** True when the connection string reaches the table service over plain http (Azurite). */
function tableEndpointIsHttp(cs: string): boolean {
  const endpoint = connectionStringField(cs, 'TableEndpoint');
  if (endpoint !== undefined) return endpoint.toLowerCase().startsWith('http:');
  return connectionStringField(cs, 'DefaultEndpointsProtocol')?.toLowerCase() === 'http';
}

/**
 * Builds the clients once per process. For identity-based settings the caller passes the credential
 * (e.g. ManagedIdentityCredential with the configured client id), so this module builds no credential.
 */
export function createStorageClients(conn: StorageConnection, identityCredential?: TokenCredential): StorageClients {
  const tables = new Map<string, TableClient>();
  const cached = (name: string, make: () => TableClient) => {
    let client = tables.get(name);
    if (!client) {
      client = make();
      tables.set(name, client);
    }
    return client;
  };

  if (conn.kind === 'connectionString') {
    const cs = conn.connectionString;
    // The table SDK refuses shared-key auth over http unless told; only Azurite is reached that way.
    const allowInsecureConnection = tableEndpointIsHttp(cs);
    let queueService: QueueServiceClient | undefined;
    try {
      queueService = QueueServiceClient.fromConnectionString(cs);
    } catch {
      // A connection string without a queue endpoint (e.g. a blob-only SAS): queues are then unavailable.
      queueService = undefined;
    }
    return {
      blobService: BlobServiceClient.fromConnectionString(cs),
      table: (name) => cached(name, () => TableClient.fromConnectionString(cs, name, { allowInsecureConnection })),
      queueService,
    };
  }

  if (!identityCredential) {
    throw new Error('identity-based storage settings (EXPORT_STORAGE__blobServiceUri) need a credential to be passed in');
  }
  const credential = identityCredential;
  return {
    blobService: new BlobServiceClient(conn.blobServiceUri, credential),
    table: (name) => cached(name, () => new TableClient(conn.tableServiceUri, name, credential)),
    queueService: conn.queueServiceUri ? new QueueServiceClient(conn.queueServiceUri, credential) : undefined,
  };
}
