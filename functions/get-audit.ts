// getAudit: GET /api/audit?from=&to=&principal=&entity=&limit= → the audit trail's records (who read what,
// docs/security.md), oldest first, for Archive.Audit. The read of the trail is itself recorded.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { queryAudit } from '../src/app/audited-reads';
import { APP_ROLES } from '../src/app/http-auth';
import { handleHttp, json } from '../src/app/http-responses';

export function createGetAuditHandler(getCtx: GetAppContext) {
  return async function getAudit(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(request, context, getCtx, [APP_ROLES.audit], async (ctx, log, call) => {
      // With HTTP_AUTH=function-keys a key may come as ?code=: the host's, not one of this query's fields.
      const { code: _key, ...query } = Object.fromEntries(request.query);
      return json(200, await queryAudit(ctx, call.caller, call.requestId, query, log));
    });
  };
}

export const getAudit = createGetAuditHandler(getAppContext);

export const getAuditOptions = {
  methods: ['GET'],
  route: 'audit',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: getAudit,
} satisfies HttpFunctionOptions;

app.http('getAudit', getAuditOptions);
