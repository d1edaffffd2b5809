// readExport: GET /api/exports/{*path}[?format=text] → one batch streamed as JSON Lines, or as
// readable text (or a manifest as JSON). Archive.Read, except a production's files: those are opened to
// Archive.Produce (docs/security.md). Every answer is recorded in the audit trail before its first byte.
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, httpAuthLevel, type GetAppContext } from '../src/app/app-context';
import { recordRead } from '../src/app/audited-reads';
import { exportReadAccess, parseExportFormat, readExport as openExport } from '../src/app/export-browser';
import { handleHttp } from '../src/app/http-responses';
import { blobReadEvent } from '../src/archive/audit-trail';
import { PRODUCTIONS_PREFIX } from '../src/archive/blob-layout';

export function createReadExportHandler(getCtx: GetAppContext) {
  return async function readExport(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const path = request.params.path ?? '';
    return handleHttp(request, context, getCtx, exportReadAccess(path), async (ctx, log, call) => {
      const format = parseExportFormat(request.query.get('format'));
      const opened = new AbortController();
      const content = await openExport(ctx, path, opened.signal, format);
      try {
        await recordRead(
          ctx,
          call.caller,
          call.requestId,
          blobReadEvent(path.startsWith(PRODUCTIONS_PREFIX) ? 'production.download' : 'export.read', path),
          log,
        );
      } catch (err) {
        // Nothing was sent: let go of the download that was opened.
        opened.abort();
        throw err;
      }
      return {
        status: 200,
        headers: {
          'content-type': content.contentType,
          'x-content-type-options': 'nosniff',
          ...(content.download ? { 'content-disposition': 'attachment' } : {}),
        },
        body: content.body,
      };
    });
  };
}

export const readExport = createReadExportHandler(getAppContext);

export const readExportOptions = {
  methods: ['GET'],
  route: 'exports/{*path}',
  // anonymous behind Entra (App Service Authentication signs callers in, the handler checks the role), function with keys.
  authLevel: httpAuthLevel(),
  handler: readExport,
} satisfies HttpFunctionOptions;

// A batch can be large: stream the response instead of buffering it (needs Functions host 4.28+).
// setup() applies app-wide; the other HTTP handlers read bodies with request.text(), which works either way.
app.setup({ enableHttpStream: true });
app.http('readExport', readExportOptions);
