// Hosted contents (pasted images, custom emoji, code snippets, custom reactions): which messages carry
// them (picked by hash, so seeding is unchanged), their URLs and deterministic bytes, and the Graph
// routes `…/messages/{id}[/replies/{id}]/hostedContents[/{hcId}[/$value]]` with the per-chat rate limit.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import { F_RICH, F_SYSTEM } from './message-flags';
import { hash32, unitHash } from './prng';
import { graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import { TokenBucket } from './faults';
import type { Msg, Reaction, Tenant } from './tenant';
import type { GraphContext } from './graph';

export type HostedContentKind = 'image' | 'emoji' | 'snippet' | 'reaction';

export interface HostedContentInfo {
  /** opaque id (base64url of a Skype-style object descriptor, like Graph's) */
  id: string;
  kind: HostedContentKind;
  contentType: string;
}

/** What a test can expect from `GET {url}`. */
export interface ExpectedHostedContent extends HostedContentInfo {
  url: string;
  conversationId: string;
  messageId: string;
  bytes: Buffer;
  sha256: string;
}

function hcId(m: Msg, n: string): string {
  const h = `${hash32(`${m.conv.id}|${m.id}|${n}`).toString(16).padStart(8, '0')}${hash32(`${n}|${m.id}`).toString(16).padStart(8, '0')}`;
  const obj = `0-weu-d${hash32(n) % 20}-${h}`;
  return Buffer.from(`id=x_${obj},type=1,url=https://eu-api.asm.skype.com/v1/objects/${obj}/views/imgo`, 'utf8').toString('base64url');
}

/**
 * True for reactions rendered as org custom emoji (`reactionType: 'custom'`): one added as 'custom', or
 * a seeded one picked by customReactionFraction. Never a reaction added with another type: the pick
 * hashes the reaction's instant, so a test's 👍 added at wall-clock time would otherwise become a
 * custom emoji in about a third of the runs.
 */
export function isCustomReaction(tenant: Tenant, m: Msg, r: Reaction): boolean {
  if (r.reactionType === 'custom') return true;
  return (
    r.seeded === true &&
    (m.flags & F_RICH) !== 0 &&
    unitHash(`${m.conv.id}|${m.id}|reaction|${r.ms}`) < tenant.content.customReactionFraction
  );
}

export function reactionHostedContentId(m: Msg, r: Reaction): string {
  return hcId(m, `reaction-${r.ms}`);
}

/** The hosted contents referenced from a message's body or attachments (not its reactions). */
export function bodyHostedContents(tenant: Tenant, m: Msg): HostedContentInfo[] {
  if ((m.flags & F_RICH) === 0 || (m.flags & F_SYSTEM) !== 0) return [];
  if (unitHash(`${m.conv.id}|${m.id}|hosted`) >= tenant.content.hostedContentFraction) return [];
  const pick = hash32(`${m.conv.id}|${m.id}|hosted-kind`) % 10;
  if (pick < 5) {
    const n = pick % 2 === 0 ? 2 : 1;
    return Array.from({ length: n }, (_, i) => ({ id: hcId(m, `image-${i}`), kind: 'image' as const, contentType: 'image/png' }));
  }
  if (pick < 7) return [{ id: hcId(m, 'emoji'), kind: 'emoji', contentType: 'image/png' }];
  return [{ id: hcId(m, 'snippet'), kind: 'snippet', contentType: 'text/plain; charset=utf-8' }];
}

/** Every hosted content of a message: body ones plus custom reactions of any version. */
export function hostedContentsOf(tenant: Tenant, m: Msg): HostedContentInfo[] {
  const out = bodyHostedContents(tenant, m);
  for (const r of m.v.reactions ?? []) {
    if (isCustomReaction(tenant, m, r)) out.push({ id: reactionHostedContentId(m, r), kind: 'reaction', contentType: 'image/png' });
  }
  return out;
}

/** The Graph path of a message (no base): chat, channel post or channel reply form. */
export function messagePath(m: Msg): string {
  const conv = m.conv;
  if (conv.kind === 'chat') return `/chats/${conv.id}/messages/${m.id}`;
  const base = `/teams/${conv.teamId ?? ''}/channels/${conv.id}/messages`;
  return m.replyToId === null ? `${base}/${m.id}` : `${base}/${m.replyToId}/replies/${m.id}`;
}

export function hostedContentUrl(tenant: Tenant, m: Msg, id: string): string {
  return `${tenant.graphBaseUrl}${messagePath(m)}/hostedContents/${id}/$value`;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([head, body, crc]);
}

/** A valid 8×8 RGB PNG in a colour derived from the seed. */
export function tinyPng(seed: number): Buffer {
  const w = 8;
  const h = 8;
  const row = 1 + w * 3;
  const raw = Buffer.alloc(h * row);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * row + 1 + x * 3;
      raw[o] = (seed >>> 16) & 0xff;
      raw[o + 1] = ((seed >>> 8) & 0xff) ^ (x * 16);
      raw[o + 2] = (seed & 0xff) ^ (y * 16);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function hostedContentBytes(hc: HostedContentInfo): Buffer {
  if (hc.kind === 'snippet')
    return Buffer.from(`// code snippet ${hc.id.slice(0, 12)}\nconst greeting = 'héllo, wörld 👋';\nconsole.log(greeting);\n`, 'utf8');
  return tinyPng(hash32(hc.id));
}

/** Every hosted content of the tenant's (live and deleted-team) conversations, with expected bytes. */
export function expectedHostedContents(tenant: Tenant): ExpectedHostedContent[] {
  const out: ExpectedHostedContent[] = [];
  for (const conv of tenant.allConversations()) {
    for (const m of conv.messages) {
      for (const hc of hostedContentsOf(tenant, m)) {
        const bytes = hostedContentBytes(hc);
        out.push({
          ...hc,
          url: hostedContentUrl(tenant, m, hc.id),
          conversationId: conv.id,
          messageId: m.id,
          bytes,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        });
      }
    }
  }
  return out;
}

const CHAT_HC = /^\/v1\.0\/(?:users\/[^/]+\/)?chats\/([^/]+)\/messages\/([^/]+)\/hostedcontents(?:\/([^/]+?)(\/\$value)?)?\/?$/i;
const CHANNEL_HC =
  /^\/v1\.0\/teams\/([^/]+)\/channels\/([^/]+)\/messages\/([^/]+)(?:\/replies\/([^/]+))?\/hostedcontents(?:\/([^/]+?)(\/\$value)?)?\/?$/i;

export function isHostedContentPath(path: string): boolean {
  return CHAT_HC.test(path) || CHANNEL_HC.test(path);
}

/** Serves the hosted-content routes; the caller has authenticated the request already. */
export function handleHostedContent(req: IncomingMessage, res: ServerResponse, path: string, ids: RequestIds, ctx: GraphContext): void {
  const { tenant, counters } = ctx;
  counters.hostedContentRequests++;
  let convId: string;
  let msgId: string;
  let rootId: string | null = null;
  let teamId: string | null = null;
  let hc: string | undefined;
  let value: boolean;
  const chat = CHAT_HC.exec(path);
  if (chat) {
    convId = chat[1] as string;
    msgId = chat[2] as string;
    hc = chat[3];
    value = chat[4] !== undefined;
  } else {
    const ch = CHANNEL_HC.exec(path) as RegExpExecArray;
    teamId = ch[1] as string;
    convId = ch[2] as string;
    if (ch[4] !== undefined) {
      rootId = ch[3] as string;
      msgId = ch[4];
    } else msgId = ch[3] as string;
    hc = ch[5];
    value = ch[6] !== undefined;
  }
  counters.hostedContentRequestsByConversation[convId] = (counters.hostedContentRequestsByConversation[convId] ?? 0) + 1;
  const conv = tenant.conversation(convId);
  const m = conv?.get(msgId);
  const sameShape =
    conv && m && (chat ? conv.kind === 'chat' : conv.kind === 'channel' && conv.teamId === teamId && m.replyToId === rootId);
  if (!conv || !m || !sameShape) return sendGraphError(res, ids, 404, 'NotFound', `Message ${msgId} was not found in ${convId}.`);

  // Graph allows about 1 request/s per chat or channel for hosted contents, beyond that 429
  const rps = ctx.faults().hostedContentRps;
  if (rps !== null) {
    const burst = Math.max(1, ctx.faults().hostedContentBurst);
    let bucket = ctx.hostedBuckets.get(conv.id);
    if (!bucket) ctx.hostedBuckets.set(conv.id, (bucket = new TokenBucket(rps, undefined, burst)));
    bucket.setRate(rps, burst);
    if (!bucket.tryTake()) {
      counters.hostedContentThrottled++;
      counters.hostedContentThrottledByConversation[conv.id] = (counters.hostedContentThrottledByConversation[conv.id] ?? 0) + 1;
      const wait = Math.max(0.05, Math.ceil(bucket.secondsUntilToken() * 1000) / 1000);
      return sendGraphError(
        res,
        ids,
        429,
        'TooManyRequests',
        'Too many requests for hosted contents of this chat. Please retry again later.',
        { 'retry-after': String(wait) },
      );
    }
  }

  const all = hostedContentsOf(tenant, m);
  const odataBase = `${ctx.origin}/v1.0/$metadata#${chat ? 'chats' : 'teams'}('${chat ? conv.id : teamId}')${chat ? '' : `/channels('${conv.id}')`}/messages('${rootId ?? m.id}')${rootId ? `/replies('${m.id}')` : ''}/hostedContents`;
  const meta = (h: HostedContentInfo) => ({
    '@odata.type': '#microsoft.graph.chatMessageHostedContent',
    id: h.id,
    contentBytes: null,
    contentType: null,
  });
  if (hc === undefined) {
    return sendJson(res, 200, { '@odata.context': odataBase, '@odata.count': all.length, value: all.map(meta) }, graphIdHeaders(ids));
  }
  const found = all.find((h) => h.id === hc);
  if (!found) return sendGraphError(res, ids, 404, 'NotFound', `Hosted content '${hc}' was not found for message ${m.id}.`);
  if (!value) return sendJson(res, 200, { '@odata.context': `${odataBase}/$entity`, ...meta(found) }, graphIdHeaders(ids));
  const bytes = hostedContentBytes(found);
  counters.hostedContentBytesServed += bytes.length;
  res.writeHead(200, { 'content-type': found.contentType, 'content-length': bytes.length, ...graphIdHeaders(ids) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
