// Names for a production (docs/rsmf.md): people, chats and channels as the directory snapshot nearest
// the slice knew them, falling back to what message payloads say and finally to Graph ids.
import type { DirectorySnapshot, SnapshotUser } from '../archive/directory-snapshot';
import type { SliceSpool } from './archive-scan';
import { appOfClass, COPILOT_PARTICIPANT } from './copilot-events';
import type { RsmfCustom } from './message-events';

export interface RsmfParticipant {
  id: string;
  display: string;
  email?: string;
  account_id: string;
  custom?: RsmfCustom[];
}

export interface ConversationNames {
  display: string;
  /** Chat members (Entra object ids) as of the snapshot; empty for channels and without a snapshot. */
  memberIds: string[];
  custom: RsmfCustom[];
}

export interface NameBook {
  /** The snapshot this book was made from (its blob name), if any. */
  readonly source: string | undefined;
  user(id: string): SnapshotUser | undefined;
  participant(id: string, payloadName?: string): RsmfParticipant;
  conversation(
    slice: Pick<SliceSpool, 'conversationId' | 'conversationKind' | 'teamId' | 'ownerId' | 'appClass' | 'app'>,
  ): ConversationNames;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function nameBookFrom(snapshot: (DirectorySnapshot & { blobName?: string }) | undefined): NameBook {
  const users = new Map((snapshot?.users ?? []).map((u) => [u.id, u]));
  const chats = new Map((snapshot?.chats ?? []).map((c) => [c.id, c]));
  const channels = new Map<string, { team: string; channel: string; membershipType: string }>();
  for (const t of snapshot?.teams ?? [])
    for (const c of t.channels) channels.set(c.id, { team: t.displayName, channel: c.displayName, membershipType: c.membershipType });
  const nameOf = (id: string) => users.get(id)?.displayName || undefined;
  return {
    source: snapshot?.blobName,
    user: (id) => users.get(id),
    participant(id, payloadName) {
      const u = users.get(id);
      const email = u?.userPrincipalName && EMAIL.test(u.userPrincipalName) ? u.userPrincipalName : undefined;
      const custom: RsmfCustom[] = [];
      if (u?.mail && u.mail !== email) custom.push({ name: 'Mail', value: u.mail });
      if (u?.deleted) custom.push({ name: 'Deleted', value: 'true' });
      return {
        id,
        display: u?.displayName || payloadName || id,
        ...(email ? { email } : {}),
        account_id: id,
        ...(custom.length > 0 ? { custom } : {}),
      };
    },
    conversation(slice) {
      if (slice.conversationKind === 'copilot') {
        // One user's session with Copilot: the user and "Microsoft 365 Copilot", the app it was in.
        const owner = slice.ownerId ?? '';
        const app = slice.app ?? appOfClass(slice.appClass);
        return {
          display: `${nameOf(owner) ?? owner} and ${COPILOT_PARTICIPANT.displayName}${app ? ` (${app})` : ''}`,
          memberIds: [owner, COPILOT_PARTICIPANT.id],
          custom: [
            { name: 'Copilot session id', value: slice.conversationId },
            ...(slice.appClass ? [{ name: 'App class', value: slice.appClass }] : []),
          ],
        };
      }
      if (slice.conversationKind === 'meeting') {
        // A meeting whose id names no chat: its transcripts and recordings, under its organiser.
        const owner = slice.ownerId ?? '';
        return {
          display: `Meeting organised by ${nameOf(owner) ?? owner}`,
          memberIds: owner ? [owner] : [],
          custom: [{ name: 'Meeting id', value: slice.conversationId }],
        };
      }
      if (slice.conversationKind === 'chat') {
        const chat = chats.get(slice.conversationId);
        const memberIds = (chat?.members ?? []).map((m) => m.userId).filter((id): id is string => id !== undefined);
        const memberNames = (chat?.members ?? []).map((m) => (m.userId ? nameOf(m.userId) : undefined) ?? m.displayName ?? m.userId ?? '?');
        const display = chat?.topic ?? (memberNames.length > 0 ? memberNames.join(', ') : `Chat ${slice.conversationId}`);
        return { display, memberIds, custom: chat ? [{ name: 'Chat type', value: chat.chatType }] : [] };
      }
      const ch = channels.get(slice.conversationId);
      const custom: RsmfCustom[] = [
        ...(slice.teamId ? [{ name: 'Team id', value: slice.teamId }] : []),
        ...(ch ? [{ name: 'Membership', value: ch.membershipType }] : []),
      ];
      return { display: ch ? `${ch.team} › ${ch.channel}` : `Channel ${slice.conversationId}`, memberIds: [], custom };
    },
  };
}
