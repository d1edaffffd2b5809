// The real blob container client, wrapped so that writes of audit records (blobs under audit/) are refused
// from the k-th on, as a storage account that refuses the write would; everything else goes to Azurite.
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { AUDIT_PREFIX } from '../../src/archive/blob-layout';

export interface FailingAuditWrites {
  container: ContainerClient;
  /** Audit record writes attempted through the wrapper so far (refused ones included). */
  readonly attempts: number;
}

/** A storage answer the SDK does not retry: the account refuses the write. */
function refused(): Error {
  return Object.assign(new Error('This request is not authorized to perform this operation. (injected by the test)'), {
    name: 'RestError',
    statusCode: 403,
    code: 'AuthorizationFailure',
  });
}

function bound<T extends object>(target: T, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

export function failingAuditWrites(real: ContainerClient, failFrom = 1): FailingAuditWrites {
  let attempts = 0;
  const wrap = (client: BlockBlobClient): BlockBlobClient =>
    new Proxy(client, {
      get(target, prop) {
        if (prop !== 'upload') return bound(target, prop);
        return async (...args: Parameters<BlockBlobClient['upload']>) => {
          attempts++;
          if (attempts >= failFrom) throw refused();
          return target.upload(...args);
        };
      },
    });
  const container = new Proxy(real, {
    get(target, prop) {
      if (prop === 'getBlockBlobClient')
        return (name: string) => (name.startsWith(AUDIT_PREFIX) ? wrap(target.getBlockBlobClient(name)) : target.getBlockBlobClient(name));
      return bound(target, prop);
    },
  });
  return {
    container,
    get attempts() {
      return attempts;
    },
  };
}
