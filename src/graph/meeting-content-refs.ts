// The bodies a meeting artifact has (docs/design.md §18): a transcript's `content` (WebVTT with speakers)
// and `metadataContent` (per-cue JSON), a recording's `content` (MP4). Every request is built from the
// organiser whose listing returned the item and the item's own meetingId and id, never from the
// `transcriptContentUrl` or `recordingContentUrl` it carries: those are only what Graph says is there.
import { artifactKind } from './artifact-schema';

export interface MeetingContentRef {
  kind: 'transcript' | 'transcriptMetadata' | 'recording';
  /** Which body: `content` or `metadataContent`. */
  ref: 'content' | 'metadataContent';
  /** Path under GRAPH_BASE_URL. */
  path: string;
  /** The parts naming the reference in the content index (content/refs/). */
  refParts: string[];
}

/** The bodies to fetch for one archived transcript or recording; none for an item that is neither. */
export function meetingContentRefs(organizerId: string, item: unknown): MeetingContentRef[] {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return [];
  const m = item as Record<string, unknown>;
  const kind = artifactKind(m);
  if (!kind || typeof m.meetingId !== 'string' || typeof m.id !== 'string' || m.meetingId === '' || m.id === '') return [];
  const base = `/users/${encodeURIComponent(organizerId)}/onlineMeetings/${encodeURIComponent(m.meetingId)}/${kind}s/${encodeURIComponent(m.id)}`;
  const parts = (ref: string) => ['meeting', organizerId, m.meetingId as string, kind, m.id as string, ref];
  if (kind === 'recording') return [{ kind: 'recording', ref: 'content', path: `${base}/content`, refParts: parts('content') }];
  return [
    // No $format: attributed WebVTT where the tenant allows speaker attribution, unattributed text otherwise.
    { kind: 'transcript', ref: 'content', path: `${base}/content`, refParts: parts('content') },
    { kind: 'transcriptMetadata', ref: 'metadataContent', path: `${base}/metadataContent`, refParts: parts('metadataContent') },
  ];
}
