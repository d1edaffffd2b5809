// startProduction: POST /api/productions { from, to, users?, teams?, conversations?, allowUnsettled? }
// [Idempotency-Key] → 202 with the production id and status URL (the same for a retried key; 422 for the
// key with another body); the RSMF files are built on the jobs queue (docs/rsmf.md).
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, type GetAppContext } from '../src/app/app-context';
import { ValidationError } from '../src/app/app-errors';
import { handleHttp, json } from '../src/app/http-responses';
import { parseIdempotencyKey } from '../src/app/plan-on-queue';
import { parseProductionRequest } from '../src/app/production-request';
import { requestProduction } from '../src/app/productions';

export function createStartProductionHandler(getCtx: GetAppContext) {
  return async function startProduction(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(context, getCtx, async (ctx, log) => {
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
      const location = new URL(`productions/${encodeURIComponent(doc.productionId)}`, request.url).toString();
      return json(202, { productionId: doc.productionId, status: doc.status, statusUrl: location }, { location });
    });
  };
}

export const startProduction = createStartProductionHandler(getAppContext);

export const startProductionOptions = {
  methods: ['POST'],
  route: 'productions',
  authLevel: 'function',
  handler: startProduction,
} satisfies HttpFunctionOptions;

app.http('startProduction', startProductionOptions);
