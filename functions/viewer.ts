// viewer: GET /api/viewer/{*path} → the read-only archive viewer (docs/viewer.md) behind the function
// key. The key given as ?code= is carried on the viewer's own links, so browsing keeps working.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { ArchiveContainer } from '../src/archive/archive-container';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import type { DirectoryNames } from '../src/archive/viewer-names';
import { serverLinks } from '../src/viewer/links';
import { cachedDirectoryNames, viewerRequest } from '../src/viewer/router';

/** Where the host mounts the route (its default `api` prefix). */
export const VIEWER_BASE = '/api/viewer/';

export function createViewerHandler(getCtx: GetAppContext) {
  let names: { container: ArchiveContainer; get: () => Promise<DirectoryNames> } | undefined;
  return async function viewer(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const log = invocationLogger(context);
    let container: ArchiveContainer;
    try {
      container = (await getCtx()).deps.container;
    } catch (err) {
      log.error('viewer could not start', { error: err instanceof Error ? err.message : String(err) });
      return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
    }
    if (names?.container !== container) names = { container, get: cachedDirectoryNames(container) };
    const code = request.query.get('code');
    const links = serverLinks(VIEWER_BASE, code ? { code } : {});
    const query = new URLSearchParams(request.query);
    query.delete('code');
    const response = await viewerRequest({ container, links, names: names.get, log }, request.params.path ?? '', query);
    return { status: response.status, headers: response.headers, body: response.body };
  };
}

export const viewer = createViewerHandler(getAppContext);

export const viewerOptions = {
  methods: ['GET'],
  route: 'viewer/{*path}',
  authLevel: 'function',
  handler: viewer,
} satisfies HttpFunctionOptions;

app.http('viewer', viewerOptions);
