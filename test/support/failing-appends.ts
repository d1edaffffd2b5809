// The real blob container client, wrapped so that its append blobs refuse Append Block from the k-th call
// on (a storage fault while writing the audit trail); everything else goes to Azurite unchanged.
import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';

export interface FailingAppends {
  container: ContainerClient;
  /** Append Block calls made through the wrapper so far (refused ones included). */
  readonly appends: number;
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

export function failingAppends(real: ContainerClient, failFrom = 1): FailingAppends {
  let appends = 0;
  const wrapAppendBlob = (client: AppendBlobClient): AppendBlobClient =>
    new Proxy(client, {
      get(target, prop) {
        if (prop !== 'appendBlock') return bound(target, prop);
        return async (...args: Parameters<AppendBlobClient['appendBlock']>) => {
          appends++;
          if (appends >= failFrom) throw refused();
          return target.appendBlock(...args);
        };
      },
    });
  const container = new Proxy(real, {
    get(target, prop) {
      if (prop === 'getAppendBlobClient') return (name: string) => wrapAppendBlob(target.getAppendBlobClient(name));
      return bound(target, prop);
    },
  });
  return {
    container,
    get appends() {
      return appends;
    },
  };
}
