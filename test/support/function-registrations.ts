// Records what function files register with the Functions host. The Node worker hands `@azure/functions`
// its core API as the module '@azure/functions-core'; this stands in for it, process-wide, while the
// given loader runs, so it works for the repo's sources and for a packaged copy of the app alike.
import Module from 'node:module';

/** Every function the app registers, by name, sorted: the registration and packaging tests expect exactly these. */
export const APP_FUNCTIONS = [
  'contentWorker',
  'dailyExport',
  'exportPoison',
  'exportWorker',
  'getAudit',
  'getProduction',
  'getRun',
  'listExports',
  'listRuns',
  'readExport',
  'startBackfill',
  'startProduction',
  'sweepStuck',
  'viewer',
] as const;

export interface Binding {
  type: string;
  direction: string;
  [key: string]: unknown;
}

export interface RegisteredFunction {
  name: string;
  bindings: Record<string, Binding>;
}

/** Runs `load` with '@azure/functions-core' provided, returning what it registered and what it returned. */
export async function captureRegistrations<T>(load: () => Promise<T> | T): Promise<{ registered: RegisteredFunction[]; result: T }> {
  const registered: RegisteredFunction[] = [];
  const hostApi = {
    setProgrammingModel: () => undefined,
    registerFunction: (metadata: RegisteredFunction) => {
      registered.push(metadata);
      return { dispose: () => undefined };
    },
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
  };
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return hostApi;
    return original.call(this, request, ...rest);
  };
  try {
    return { registered, result: await load() };
  } finally {
    loader._load = original;
  }
}

/** The one trigger binding of a registered function. */
export function triggerBinding(fn: RegisteredFunction): Binding {
  const triggers = Object.values(fn.bindings).filter((b) => b.type.endsWith('Trigger'));
  if (triggers.length !== 1) throw new Error(`function ${fn.name} has ${triggers.length} trigger bindings`);
  return triggers[0]!;
}

/**
 * Flex Consumption's per-function scale groups (docs/deploy.md, "Graph budget"): every HTTP function
 * shares the group 'http' (likewise Blob/Event Grid and Durable triggers); every other function is its
 * own group, named after it.
 */
export function functionGroups(registered: readonly RegisteredFunction[]): string[] {
  const groups = new Set<string>();
  for (const fn of registered) {
    const type = triggerBinding(fn).type;
    if (type === 'httpTrigger') groups.add('http');
    else if (type === 'blobTrigger' || type === 'eventGridTrigger') groups.add('blob');
    else if (/^(orchestration|activity|entity)Trigger$/.test(type)) groups.add('durable');
    else groups.add(fn.name);
  }
  return [...groups].sort();
}
