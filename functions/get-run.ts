// getRun: GET /api/runs/{runId} → the run's status, counts and per-entity errors; 404 if unknown.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';
import { getRunStatus } from '../src/app/run-views';

export function createGetRunHandler(getCtx: GetAppContext) {
  return async function getRun(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.read, APP_ROLES.operate], async (ctx) =>
      json(200, await getRunStatus(ctx, request.params.runId ?? '')),
    );
  };
}

export const getRun = createGetRunHandler(getAppContext);

export const getRunOptions = {
  methods: ['GET'],
  route: 'runs/{runId}',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: getRun,
} satisfies HttpFunctionOptions;

app.http('getRun', getRunOptions);
