// The benchmark's synthetic tenants (tenant, heavy and the small subsets for the baseline and the
// over-limit run) as emulator seed flags, and the scaling that the --scale and --quick flags apply.

export type ProfileName = 'first-run' | 'daily' | 'tenant' | 'heavy' | 'storage' | 'blobs' | 'content' | 'artifacts';
export const PROFILE_NAMES: readonly ProfileName[] = ['first-run', 'tenant', 'heavy', 'storage', 'blobs', 'daily', 'content', 'artifacts'];

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
  /** The seeded history ends this long before the run's "now" (default: an hour, the emulator's default). */
  endsBeforeNowMs?: number;
  /** Share of rich messages whose body names hosted contents (the emulator's default, 0.12, when absent). */
  hostedContentFraction?: number;
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

/** The emulator's command-line flags that seed this tenant (`nowMs`: the run's "now", for endsBeforeNowMs). */
export function seedFlags(shape: TenantShape, seed: number, nowMs = Date.now()): string[] {
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
    ...(shape.endsBeforeNowMs !== undefined ? [['end-ms', nowMs - shape.endsBeforeNowMs] as [string, number]] : []),
    ...(shape.hostedContentFraction !== undefined ? [['hosted-content-fraction', shape.hostedContentFraction] as [string, number]] : []),
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
  if (shape.hostedContentFraction !== undefined) parts.push(`hosted contents in ${shape.hostedContentFraction * 100}% of rich messages`);
  return parts.join(', ');
}

/**
 * content: the tenant profile's shape (scale 0.05: 100 users and 10 teams, ~25,000 versions, the first
 * run of issue 22) with inline images, emoji or snippets in 5% of the rich messages
 * (hostedContentFraction; custom reactions stay at the emulator's default), exported once with hosted
 * contents on and once with them off.
 */
export function contentShape(scale: number): TenantShape {
  return { ...tenantShape(scale), hostedContentFraction: 0.05 };
}

/**
 * first run: a small tenant exported from EXPORT_START years back. Most users are in no chat (empty
 * entities); the seeded history ends two days before the run, so the fresh pass finds nothing.
 */
export function firstRunShape(quick = false): TenantShape {
  return {
    users: quick ? 24 : 60,
    teams: quick ? 2 : 4,
    channelsPerTeam: 3,
    oneOnOneChats: quick ? 4 : 12,
    groupChats: quick ? 1 : 3,
    meetingChats: 1,
    messagesPerChat: 40,
    postsPerChannel: 30,
    repliesPerPost: 2,
    historyDays: 30,
    exportUsers: true,
    endsBeforeNowMs: 2 * 86_400_000,
  };
}

/** What happens on the day the daily profile measures: new messages in some chats and teams. */
export interface DailyActivity {
  chats: number;
  messagesPerChat: number;
  teams: number;
  postsPerTeam: number;
}

/**
 * daily: 10,000 users and 1,000 teams (× scale) after their first run: a thin history (most users in no
 * chat), then one day on which ~300 chats and ~100 teams get new messages and everything else is idle.
 */
export function dailyShape(scale: number): { shape: TenantShape; activity: DailyActivity } {
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  return {
    shape: {
      users: Math.max(20, n(10_000)),
      teams: n(1000),
      channelsPerTeam: 3,
      oneOnOneChats: n(1000),
      groupChats: n(200),
      meetingChats: n(50),
      messagesPerChat: 3,
      postsPerChannel: 1,
      repliesPerPost: 1,
      historyDays: 2,
      exportUsers: true,
    },
    activity: { chats: n(300), messagesPerChat: 10, teams: n(100), postsPerTeam: 20 },
  };
}
