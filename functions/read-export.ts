// readExport: GET /api/exports/{*path}[?format=text] → one batch streamed as JSON Lines, or as
// readable text (or a manifest as JSON).
import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getAppContext, type GetAppContext } from '../src/app/app-context';
import { parseExportFormat, readExport as openExport } from '../src/app/export-browser';
import { handleHttp } from '../src/app/http-responses';

export function createReadExportHandler(getCtx: GetAppContext) {
  return async function readExport(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return handleHttp(context, getCtx, async (ctx) => {
      const format = parseExportFormat(request.query.get('format'));
      const content = await openExport(ctx, request.params.path ?? '', undefined, format);
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
  authLevel: 'function',
  handler: readExport,
} satisfies HttpFunctionOptions;

// A batch can be large: stream the response instead of buffering it (needs Functions host 4.28+).
// setup() applies app-wide; the other HTTP handlers read bodies with request.text(), which works either way.
app.setup({ enableHttpStream: true });
app.http('readExport', readExportOptions);
