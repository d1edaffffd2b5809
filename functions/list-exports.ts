// listExports: GET /api/exports?prefix=…[&limit=N] → the archive's batches under a prefix.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, type GetAppContext } from '../src/app/app-context';
import { listExports as listArchive } from '../src/app/export-browser';
import { handleHttp, json } from '../src/app/http-responses';

export function createListExportsHandler(getCtx: GetAppContext) {
  return async function listExports(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(context, getCtx, async (ctx) =>
      json(200, await listArchive(ctx, { prefix: request.query.get('prefix'), limit: request.query.get('limit') })),
    );
  };
}

export const listExports = createListExportsHandler(getAppContext);

export const listExportsOptions = {
  methods: ['GET'],
  route: 'exports',
  authLevel: 'function',
  handler: listExports,
} satisfies HttpFunctionOptions;

app.http('listExports', listExportsOptions);
