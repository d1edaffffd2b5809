// A day of new activity in bulk, for the benchmark's daily profile: new messages in an evenly spread
// subset of the chats and of the teams' channels, at instants spread over [fromMs, toMs). One control
// call instead of thousands of mutations, so a 10,000-user tenant's "next day" is cheap to build.

import type { Tenant } from './tenant';

export interface ActivityOptions {
  /** how many chats get new messages (spread evenly over all chats) */
  chats: number;
  messagesPerChat: number;
  /** how many teams get new posts (spread evenly over all teams; posts go round their channels) */
  teams: number;
  postsPerTeam: number;
  fromMs: number;
  toMs: number;
}

export interface ActivityResult {
  posted: number;
  chats: number;
  teams: number;
}

/** Every k-th of `total` items so that `count` of them are picked, spread over the whole list. */
function spread(total: number, count: number): number[] {
  const n = Math.max(0, Math.min(total, Math.floor(count)));
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

export function addActivity(tenant: Tenant, o: ActivityOptions): ActivityResult {
  for (const [k, v] of Object.entries({ chats: o.chats, messagesPerChat: o.messagesPerChat, teams: o.teams, postsPerTeam: o.postsPerTeam }))
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`activity ${k} must be an integer ≥ 0`);
  if (!(Number.isFinite(o.fromMs) && Number.isFinite(o.toMs) && o.toMs > o.fromMs)) throw new Error('activity needs fromMs < toMs');
  const span = o.toMs - o.fromMs;
  let posted = 0;
  const at = (i: number, n: number) => o.fromMs + Math.floor(((i + 0.5) * span) / Math.max(1, n));
  const chats = spread(tenant.chats.length, o.chats);
  for (const ci of chats) {
    const chat = tenant.chats[ci];
    if (!chat) continue;
    for (let i = 0; i < o.messagesPerChat; i++) {
      const from = chat.memberIds[i % chat.memberIds.length];
      tenant.postMessage(
        { chatId: chat.id },
        { ...(from ? { fromUserId: from } : {}), text: `New today ${i + 1}`, atMs: at(i, o.messagesPerChat) },
      );
      posted++;
    }
  }
  const teams = spread(tenant.teams.length, o.teams);
  for (const ti of teams) {
    const team = tenant.teams[ti];
    if (!team || team.channels.length === 0) continue;
    for (let i = 0; i < o.postsPerTeam; i++) {
      const channel = team.channels[i % team.channels.length];
      if (!channel) continue;
      tenant.postMessage({ teamId: team.id, channelId: channel.id }, { text: `Channel news ${i + 1}`, atMs: at(i, o.postsPerTeam) });
      posted++;
    }
  }
  return { posted, chats: chats.length, teams: teams.length };
}
