// listRuns: GET /api/runs[?limit=N] → runs, newest first.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, type GetAppContext } from '../src/app/app-context';
import { handleHttp, json } from '../src/app/http-responses';
import { listRunViews } from '../src/app/run-views';

export function createListRunsHandler(getCtx: GetAppContext) {
  return async function listRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(context, getCtx, async (ctx) => json(200, await listRunViews(ctx, request.query.get('limit'))));
  };
}

export const listRuns = createListRunsHandler(getAppContext);

export const listRunsOptions = {
  methods: ['GET'],
  route: 'runs',
  authLevel: 'function',
  handler: listRuns,
} satisfies HttpFunctionOptions;

app.http('listRuns', listRunsOptions);
