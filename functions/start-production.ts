// startProduction: POST /api/productions { from, to, users?, teams?, conversations?, allowUnsettled? }
// [Idempotency-Key] → 202 with the production id and status URL (the same for a retried key; 422 for the
// key with another body); the RSMF files are built on the jobs queue (docs/rsmf.md).
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { ValidationError } from '../src/app/app-errors';
import { recordRead } from '../src/app/audited-reads';
import { selectedEntities } from '../src/archive/audit-trail';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';
import { parseIdempotencyKey } from '../src/app/plan-on-queue';
import { parseProductionRequest } from '../src/app/production-request';
import { requestProduction } from '../src/app/productions';

export function createStartProductionHandler(getCtx: GetAppContext) {
  return async function startProduction(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.produce], async (ctx, log, call) => {
      const text = await request.text();
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        throw new ValidationError([
          { field: 'body', message: 'must be a JSON object { from, to, users?, teams?, conversations?, allowUnsettled? }' },
        ]);
      }
      const req = parseProductionRequest(body);
      const key = parseIdempotencyKey(request.headers.get('idempotency-key'));
      // A retry with the same Idempotency-Key gets the same answer: 202, the same id and Location.
      const { doc } = await requestProduction(ctx, req, log, undefined, key);
      // Recorded once the production exists, so the record names it; its files are read (and recorded
      // again) when they are downloaded. A retry with the same key is recorded too.
      await recordRead(
        ctx,
        call.caller,
        call.requestId,
        {
          action: 'production.create',
          productionId: doc.productionId,
          from: doc.request.from,
          to: doc.request.to,
          entities: selectedEntities(doc.request.users, doc.request.teams),
          conversations: doc.request.conversations,
        },
        log,
      );
      const location = new URL(`productions/${encodeURIComponent(doc.productionId)}`, request.url).toString();
      return json(202, { productionId: doc.productionId, status: doc.status, statusUrl: location }, { location });
    });
  };
}

export const startProduction = createStartProductionHandler(getAppContext);

export const startProductionOptions = {
  methods: ['POST'],
  route: 'productions',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: startProduction,
} satisfies HttpFunctionOptions;

app.http('startProduction', startProductionOptions);
