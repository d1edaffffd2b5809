// listExports: GET /api/exports?prefix=…[&limit=N] → the archive's batches under a prefix (Archive.Read; recorded
// in the audit trail, docs/security.md).
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { recordRead } from '../src/app/audited-reads';
import { listExports as listArchive } from '../src/app/export-browser';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';

export function createListExportsHandler(getCtx: GetAppContext) {
  return async function listExports(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.read], async (ctx, log, call) => {
      const listed = await listArchive(ctx, { prefix: request.query.get('prefix'), limit: request.query.get('limit') });
      // The names say whose conversations were archived on which days: a read, recorded before the answer.
      await recordRead(ctx, call.caller, call.requestId, { action: 'export.list', prefix: listed.prefix }, log);
      return json(200, listed);
    });
  };
}

export const listExports = createListExportsHandler(getAppContext);

export const listExportsOptions = {
  methods: ['GET'],
  route: 'exports',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: listExports,
} satisfies HttpFunctionOptions;

app.http('listExports', listExportsOptions);
