// listRuns: GET /api/runs[?limit=N] → runs, newest first.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';
import { listRunViews } from '../src/app/run-views';

export function createListRunsHandler(getCtx: GetAppContext) {
  return async function listRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.read, APP_ROLES.operate], async (ctx) =>
      json(200, await listRunViews(ctx, request.query.get('limit'))),
    );
  };
}

export const listRuns = createListRunsHandler(getAppContext);

export const listRunsOptions = {
  methods: ['GET'],
  route: 'runs',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: listRuns,
} satisfies HttpFunctionOptions;

app.http('listRuns', listRunsOptions);
