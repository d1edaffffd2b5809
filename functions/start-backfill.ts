// startBackfill: POST /api/backfills { from, to, users?, teams? } [Idempotency-Key] → 202 with the run id and
// status URL (200 with the same run for a retried key).
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { ValidationError } from '../src/app/app-errors';
import { parseBackfillRequest } from '../src/app/backfill-request';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';
import { parseIdempotencyKey, requestBackfillRun } from '../src/app/plan-on-queue';

export function createStartBackfillHandler(getCtx: GetAppContext) {
  return async function startBackfill(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.operate], async (ctx, log) => {
      const text = await request.text();
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        throw new ValidationError([{ field: 'body', message: 'must be a JSON object { from, to, users?, teams? }' }]);
      }
      const req = parseBackfillRequest(body, ctx.clock);
      const key = parseIdempotencyKey(request.headers.get('idempotency-key'));
      // Records the run and one planning message only: the answer never waits for the tenant's listing.
      const started = await requestBackfillRun(ctx, req, log, key);
      const location = new URL(`runs/${encodeURIComponent(started.runId)}`, request.url).toString();
      // 200 for a retried request (same Idempotency-Key): the run the first one started.
      return json(
        started.created ? 202 : 200,
        { runId: started.runId, status: started.status, planned: started.planned, statusUrl: location },
        { location },
      );
    });
  };
}

export const startBackfill = createStartBackfillHandler(getAppContext);

export const startBackfillOptions = {
  methods: ['POST'],
  route: 'backfills',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: startBackfill,
} satisfies HttpFunctionOptions;

app.http('startBackfill', startBackfillOptions);
