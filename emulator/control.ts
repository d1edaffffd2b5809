// Control endpoints under /_emulator/ so a parent process can steer an out-of-process emulator:
// faults, counters, stats, the hosted contents the tenant holds, the data clock and tenant mutations.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http-util';
import { addActivity, type ActivityOptions } from './activity';
import { countersToJson, type EmulatorCounters } from './counters';
import type { FaultKnobs } from './faults';
import { hostedContentsOf, type HostedContentInfo } from './hosted-contents';
import { deletionExpired, type Conversation, type PostTarget, type Tenant } from './tenant';
import {
  postInteraction,
  postRawInteraction,
  type InteractionType,
  type PostedInteraction,
  type PostInteractionOptions,
} from './copilot-store';
import { addMeetingArtifacts, type AddArtifactsOptions } from './meeting-store';

export interface ControlTarget {
  readonly tenant: Tenant;
  readonly counters: EmulatorCounters;
  faults(): FaultKnobs;
  setFaults(patch: Partial<FaultKnobs>): void;
  resetCounters(): void;
  setClock(fn: () => number): void;
}

/** One tenant mutation, as JSON. */
export type Mutation =
  | { op: 'post'; target: PostTarget; fromUserId?: string; text: string; atMs?: number }
  | { op: 'edit'; conversationId: string; messageId: string; text: string; atMs?: number }
  | { op: 'delete'; conversationId: string; messageId: string; atMs?: number }
  | { op: 'react'; conversationId: string; messageId: string; userId: string; reactionType: string; atMs?: number }
  | { op: 'deleteUser'; userId: string; atMs?: number }
  /** a Copilot prompt (and answer) of a user: returns { sessionId, requestId, promptId, responseId } */
  | ({ op: 'copilot'; userId: string } & PostInteractionOptions)
  /** an interaction served as `raw` over the rendered one: returns its id */
  | { op: 'copilotRaw'; userId: string; raw: Record<string, unknown>; atMs?: number; type?: InteractionType }
  | { op: 'copilotLicence'; userId: string; licensed: boolean }
  /** a meeting occurrence's transcript and/or recording: returns { meetingId, transcriptId?, recordingId? } */
  | ({ op: 'meetingArtifacts' } & AddArtifactsOptions);

export function applyMutation(
  tenant: Tenant,
  m: Mutation,
): string | null | PostedInteraction | { meetingId: string; transcriptId?: string; recordingId?: string } {
  switch (m.op) {
    case 'post':
      return tenant.postMessage(m.target, {
        ...(m.fromUserId !== undefined ? { fromUserId: m.fromUserId } : {}),
        text: m.text,
        ...(m.atMs !== undefined ? { atMs: m.atMs } : {}),
      });
    case 'edit':
      tenant.editMessage(m.conversationId, m.messageId, m.text, m.atMs);
      return null;
    case 'delete':
      tenant.deleteMessage(m.conversationId, m.messageId, m.atMs);
      return null;
    case 'react':
      tenant.addReaction(m.conversationId, m.messageId, m.userId, m.reactionType, m.atMs);
      return null;
    case 'deleteUser':
      tenant.deleteUser(m.userId, m.atMs);
      return null;
    case 'copilot': {
      const { op: _op, userId, ...o } = m;
      return postInteraction(tenant, userId, o);
    }
    case 'copilotRaw':
      return postRawInteraction(tenant, m.userId, m.raw, {
        ...(m.atMs !== undefined ? { atMs: m.atMs } : {}),
        ...(m.type !== undefined ? { type: m.type } : {}),
      });
    case 'copilotLicence':
      if (!tenant.user(m.userId)) throw new Error(`unknown user ${m.userId}`);
      tenant.copilot.setLicensed(m.userId, m.licensed === true);
      return null;
    case 'meetingArtifacts': {
      const { op: _op, ...o } = m;
      return addMeetingArtifacts(tenant, o);
    }
    default:
      throw new Error(`unknown mutation op ${(m as { op?: unknown }).op}`);
  }
}

/** Copilot users and meeting organisers with what each has: the bench's per-user cost denominators. */
export function artifactStats(tenant: Tenant): {
  copilotLicensedUsers: string[];
  interactionsByUser: Record<string, number>;
  meetings: number;
  transcriptsByOrganizer: Record<string, number>;
  recordingsByOrganizer: Record<string, number>;
} {
  const interactionsByUser: Record<string, number> = {};
  for (const it of tenant.copilot.all()) interactionsByUser[it.userId] = (interactionsByUser[it.userId] ?? 0) + 1;
  const transcriptsByOrganizer: Record<string, number> = {};
  const recordingsByOrganizer: Record<string, number> = {};
  for (const a of tenant.meetings.all()) {
    const into = a.kind === 'transcript' ? transcriptsByOrganizer : recordingsByOrganizer;
    into[a.meeting.organizerId] = (into[a.meeting.organizerId] ?? 0) + 1;
  }
  return {
    copilotLicensedUsers: tenant.copilot.licensedUsers(),
    interactionsByUser,
    meetings: tenant.meetings.allMeetings().length,
    transcriptsByOrganizer,
    recordingsByOrganizer,
  };
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  return text.trim() ? JSON.parse(text) : {};
}

export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  params: URLSearchParams,
  t: ControlTarget,
): Promise<void> {
  const route = `${req.method ?? 'GET'} ${path}`;
  try {
    switch (route) {
      case 'GET /_emulator/faults':
        return sendJson(res, 200, t.faults());
      case 'POST /_emulator/faults':
        t.setFaults((await jsonBody(req)) as Partial<FaultKnobs>);
        return sendJson(res, 200, t.faults());
      case 'GET /_emulator/counters':
        return sendJson(res, 200, countersToJson(t.counters, params.get('ledger') === '1', params.get('byEntity') === '1'));
      case 'POST /_emulator/reset-counters':
        t.resetCounters();
        return sendJson(res, 200, { ok: true });
      case 'GET /_emulator/stats':
        return sendJson(res, 200, t.tenant.stats());
      case 'GET /_emulator/entities':
        return sendJson(res, 200, t.tenant.exportableEntities());
      case 'GET /_emulator/artifact-stats':
        return sendJson(res, 200, artifactStats(t.tenant));
      case 'GET /_emulator/hosted-contents':
        return sendJson(res, 200, hostedContentSummary(t.tenant));
      case 'POST /_emulator/clock': {
        // { nowMs: number } freezes the data clock; { offsetMs: number } shifts real time; {} restores it
        const b = (await jsonBody(req)) as { nowMs?: number; offsetMs?: number };
        if (typeof b.nowMs === 'number') {
          const at = b.nowMs;
          t.setClock(() => at);
        } else if (typeof b.offsetMs === 'number') {
          const off = b.offsetMs;
          t.setClock(() => Date.now() + off);
        } else t.setClock(() => Date.now());
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /_emulator/activity':
        return sendJson(res, 200, addActivity(t.tenant, (await jsonBody(req)) as ActivityOptions));
      case 'POST /_emulator/mutations': {
        const b = await jsonBody(req);
        const list = (Array.isArray(b) ? b : [b]) as Mutation[];
        return sendJson(res, 200, { results: list.map((m) => applyMutation(t.tenant, m)) });
      }
      default:
        return sendJson(res, 404, { error: { code: 'NotFound', message: `no control route ${route}` } });
    }
  } catch (err) {
    sendJson(res, 400, { error: { code: 'BadRequest', message: err instanceof Error ? err.message : String(err) } });
  }
}

/**
 * How many hosted contents the messages the exportable entities serve now name (servedHostedContents):
 * in all, by kind and by chat or channel id.
 */
export interface HostedContentSummary {
  total: number;
  byKind: Record<string, number>;
  byConversation: Record<string, number>;
}

export function hostedContentSummary(tenant: Tenant): HostedContentSummary {
  const out: HostedContentSummary = { total: 0, byKind: {}, byConversation: {} };
  for (const { conversationId, hc } of servedHostedContents(tenant)) {
    out.total++;
    out.byKind[hc.kind] = (out.byKind[hc.kind] ?? 0) + 1;
    out.byConversation[conversationId] = (out.byConversation[conversationId] ?? 0) + 1;
  }
  return out;
}

/**
 * The hosted contents the exportable users' and teams' conversations name in what they serve now (the
 * current version of each message, as an export's first run gets it): a deleted message names its
 * custom reactions only (its body is gone); a message whose deletion has expired is not served.
 */
export function servedHostedContents(tenant: Tenant): Array<{ conversationId: string; messageId: string; hc: HostedContentInfo }> {
  const convs = new Set<Conversation>();
  for (const e of tenant.exportableEntities()) for (const c of tenant.conversationsOf(e)) convs.add(c);
  const now = tenant.clock();
  const out: Array<{ conversationId: string; messageId: string; hc: HostedContentInfo }> = [];
  for (const conv of convs) {
    for (const m of conv.messages) {
      if (deletionExpired(m.v, now)) continue;
      const all = hostedContentsOf(tenant, m);
      const named = m.v.deletedMs !== 0 ? all.filter((h) => h.kind === 'reaction') : all;
      for (const hc of named) out.push({ conversationId: conv.id, messageId: m.id, hc });
    }
  }
  return out;
}
