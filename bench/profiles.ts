// The benchmark's synthetic tenants (tenant, heavy and the small subsets for the baseline and the
// over-limit run) as emulator seed flags, and the scaling that the --scale and --quick flags apply.

export type ProfileName = 'tenant' | 'heavy';

export interface TenantShape {
  users: number;
  teams: number;
  channelsPerTeam: number;
  oneOnOneChats: number;
  groupChats: number;
  meetingChats: number;
  messagesPerChat: number;
  postsPerChannel: number;
  repliesPerPost: number;
  historyDays: number;
  /** Export users' chats (EXPORT_USERS=all) or only teams (none). */
  exportUsers: boolean;
}

/**
 * tenant: ~2,000 users and 200 teams with moderate histories; chat messages are served once per member,
 * so ~19,750 chat memberships × 20 messages ≈ 395k user versions plus 200 × 3 × 42 × 4 ≈ 101k team
 * versions ≈ 500k in all, in many small pages (~225 versions per user, ~500 per team).
 */
export function tenantShape(scale: number): TenantShape {
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  return {
    users: Math.max(4, n(2000)),
    teams: n(200),
    channelsPerTeam: 3,
    oneOnOneChats: n(6000),
    groupChats: n(1000),
    meetingChats: n(500),
    messagesPerChat: 20,
    postsPerChannel: 42,
    repliesPerPost: 3,
    historyDays: 30,
    exportUsers: true,
  };
}

/** heavy: ~50 teams of 20,000 versions each (4 channels × 1,000 posts × (1 + 4 replies)): full pages, long backlogs. */
export function heavyShape(scale: number, perEntity = 20_000): TenantShape {
  const posts = Math.max(1, Math.round(perEntity / 20));
  return {
    // A few users only to author the posts; their chats are not exported (EXPORT_USERS=none).
    users: 12,
    teams: Math.max(1, Math.round(50 * scale)),
    channelsPerTeam: 4,
    oneOnOneChats: 0,
    groupChats: 0,
    meetingChats: 0,
    messagesPerChat: 0,
    postsPerChannel: posts,
    repliesPerPost: 4,
    historyDays: 30,
    exportUsers: false,
  };
}

/** The emulator's command-line flags that seed this tenant. */
export function seedFlags(shape: TenantShape, seed: number): string[] {
  const flags: Array<[string, number]> = [
    ['seed', seed],
    ['users', shape.users],
    ['teams', shape.teams],
    ['channels-per-team', shape.channelsPerTeam],
    ['one-on-one-chats', shape.oneOnOneChats],
    ['group-chats', shape.groupChats],
    ['meeting-chats', shape.meetingChats],
    ['messages-per-chat', shape.messagesPerChat],
    ['posts-per-channel', shape.postsPerChannel],
    ['replies-per-post', shape.repliesPerPost],
    ['history-days', shape.historyDays],
  ];
  return flags.flatMap(([k, v]) => [`--${k}`, String(v)]);
}

export function describeShape(shape: TenantShape): string {
  const parts = [
    `${shape.users} users${shape.exportUsers ? '' : ' (not exported)'}`,
    `${shape.teams} teams × ${shape.channelsPerTeam} channels`,
  ];
  if (shape.exportUsers)
    parts.push(`${shape.oneOnOneChats}+${shape.groupChats}+${shape.meetingChats} chats × ${shape.messagesPerChat} msgs`);
  parts.push(`${shape.postsPerChannel} posts × ${shape.repliesPerPost + 1} per channel`, `${shape.historyDays} days`);
  return parts.join(', ');
}
