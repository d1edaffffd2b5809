// Small HTTP helpers for the emulator: JSON responses, Graph-shaped errors, request bodies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/** Per-request ids Graph returns on every response and inside every error body. */
export interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

export function requestIdsOf(req: IncomingMessage): RequestIds {
  const given = req.headers['client-request-id'];
  const requestId = randomUUID();
  return { requestId, clientRequestId: typeof given === 'string' && given ? given : requestId };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function graphIdHeaders(ids: RequestIds): Record<string, string> {
  return { 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId };
}

/** `{error:{code,message,innerError:{date,request-id,client-request-id}}}` (docs/graph.md §8). */
export function graphErrorBody(ids: RequestIds, code: string, message: string, extraInner: Record<string, string> = {}): unknown {
  return {
    error: {
      code,
      message,
      innerError: {
        ...extraInner,
        date: new Date().toISOString().slice(0, 19),
        'request-id': ids.requestId,
        'client-request-id': ids.clientRequestId,
      },
    },
  };
}

export function sendGraphError(
  res: ServerResponse,
  ids: RequestIds,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const inner: Record<string, string> = status === 429 ? { code: '429', status: '429', message: 'Please retry after' } : {};
  sendJson(res, status, graphErrorBody(ids, code, message, inner), { ...graphIdHeaders(ids), ...headers });
}

export async function readBody(req: IncomingMessage, limitBytes = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limitBytes) throw new Error('request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
