// getProduction: GET /api/productions/{productionId} → status, files (blob names, SHA-256, event counts)
// and totals; 404 if unknown, 400 for a malformed id. Files download through GET /api/exports/{name}.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';
import { getProductionStatus } from '../src/app/productions';

export function createGetProductionHandler(getCtx: GetAppContext) {
  return async function getProduction(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.produce], async (ctx) =>
      json(200, await getProductionStatus(ctx, request.params.productionId ?? '')),
    );
  };
}

export const getProduction = createGetProductionHandler(getAppContext);

export const getProductionOptions = {
  methods: ['GET'],
  route: 'productions/{productionId}',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: getProduction,
} satisfies HttpFunctionOptions;

app.http('getProduction', getProductionOptions);
