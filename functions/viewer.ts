// viewer: GET /api/viewer/{*path} → the read-only archive viewer (docs/viewer.md) for Archive.Read
// (docs/security.md). Every page that shows archived content is recorded in the audit trail first.
// No key or token ever travels in the viewer's links or forms.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { ArchiveContainer } from '../src/archive/archive-container';
import { getAppContext, httpAuthLevel, invocationLogger, type AppContext, type GetAppContext } from '../src/app/app-context';
import { recordRead } from '../src/app/audited-reads';
import { APP_ROLES, authorize, type Caller } from '../src/app/http-auth';
import { errorResponse } from '../src/app/http-responses';
import type { DirectoryNames } from '../src/archive/viewer-names';
import { serverLinks } from '../src/viewer/links';
import { cachedDirectoryNames, viewerRequest } from '../src/viewer/router';

/** Where the host mounts the route (its default `api` prefix). */
export const VIEWER_BASE = '/api/viewer/';

export function createViewerHandler(getCtx: GetAppContext) {
  let names: { container: ArchiveContainer; get: () => Promise<DirectoryNames> } | undefined;
  const links = serverLinks(VIEWER_BASE);
  return async function viewer(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const log = invocationLogger(context);
    let ctx: AppContext;
    try {
      ctx = await getCtx();
    } catch (err) {
      log.error('viewer could not start', { error: err instanceof Error ? err.message : String(err) });
      return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
    }
    let caller: Caller;
    try {
      caller = authorize(request.headers, ctx.deps.settings.http, [APP_ROLES.read]);
    } catch (err) {
      // 401, 403 (naming the role) or 503 as JSON, like every other HTTP function.
      return errorResponse(err, log, context.invocationId);
    }
    const container = ctx.deps.container;
    if (names?.container !== container) names = { container, get: cachedDirectoryNames(container) };
    const response = await viewerRequest(
      {
        container,
        links,
        names: names.get,
        log,
        audit: (event) => recordRead(ctx, caller, context.invocationId, event, log),
      },
      request.params.path ?? '',
      new URLSearchParams(request.query),
    );
    return { status: response.status, headers: response.headers, body: response.body };
  };
}

export const viewer = createViewerHandler(getAppContext);

export const viewerOptions = {
  methods: ['GET'],
  route: 'viewer/{*path}',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: viewer,
} satisfies HttpFunctionOptions;

app.http('viewer', viewerOptions);
