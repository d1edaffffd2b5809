// Turns the archived versions of one Microsoft 365 Copilot interaction (an aiInteraction: a user's prompt
// or Copilot's answer) into one RSMF 2.0 event of the session's conversation (docs/rsmf.md): the prompt
// is the user's, the answer is "Microsoft 365 Copilot"'s; the body is text (HTML made plain, the text of
// adaptive cards added); the links, contexts, attachments and mentions Copilot used are custom fields.
// Pure: no I/O.
import { htmlToText, problemOf, textOf } from '../archive/render-text';
import { identityOf, isoOf, type BuiltEvent, type RsmfCustom, type RsmfEvent } from './message-events';

type Json = Record<string, unknown>;

/** The participant every answer is by, in every Copilot session's file. */
export const COPILOT_PARTICIPANT = { id: 'microsoft-365-copilot', displayName: 'Microsoft 365 Copilot' } as const;

/** The body of an interaction that could not be rendered (a shape no Graph payload has). */
export const UNRENDERABLE_INTERACTION = '[could not render this Copilot interaction; its archived versions are unchanged in the archive]';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `IPM.SkypeTeams.Message.Copilot.Word` → `Word`: the app an appClass names. */
export function appOfClass(appClass: string | undefined): string | undefined {
  if (!appClass) return undefined;
  const last = appClass.split('.').pop();
  return last && last !== appClass ? last : appClass;
}

/** The text of an adaptive card (its TextBlocks, TextRuns and facts, in order); '' for anything else. */
export function cardText(content: unknown): string {
  let card: unknown = content;
  if (typeof content === 'string') {
    try {
      card = JSON.parse(content);
    } catch {
      return '';
    }
  }
  const out: string[] = [];
  const walk = (node: unknown, depth: number): void => {
    // Cards nest a few levels; a hostile one cannot make this recurse without end.
    if (depth > 64 || out.length > 10_000) return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n, depth + 1);
      return;
    }
    const o = obj(node);
    if (!o) return;
    const type = str(o.type);
    if ((type === 'TextBlock' || type === 'TextRun') && str(o.text)) out.push(o.text as string);
    if (type === 'Fact' || (str(o.title) && str(o.value) && type === undefined)) out.push(`${textOf(o.title)}: ${textOf(o.value)}`);
    for (const k of ['body', 'items', 'columns', 'inlines', 'facts', 'actions', 'card']) if (k in o) walk(o[k], depth + 1);
  };
  walk(card, 0);
  return out.join('\n');
}

/** An interaction's body as plain text: HTML made readable, attachment placeholders dropped, card text added. */
export function interactionText(it: Json): string {
  const body = obj(it.body);
  const content = typeof body?.content === 'string' ? body.content : '';
  const text = (
    body?.contentType === 'html' ? htmlToText(content) : content.replace(/<attachment\b[^>]*>\s*<\/attachment>|<attachment\b[^>]*\/>/gi, '')
  ).trim();
  const cards = arr(it.attachments)
    .map((a) => obj(a))
    .filter((a): a is Json => a !== undefined && /card/i.test(textOf(a.contentType)))
    .map((a) => cardText(a.content))
    .filter((t) => t.length > 0);
  return [text, ...cards].filter((t) => t.length > 0).join('\n');
}

function custom(name: string, value: unknown): RsmfCustom[] {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  return text.length > 0 ? [{ name, value: text }] : [];
}

/** `name (type): url` for each link, context or reference attachment: the custom fields that carry them. */
function listed(
  items: unknown[],
  label: string,
  fields: { name: string; type: string; url: string },
  keep: (o: Json) => boolean = () => true,
): RsmfCustom[] {
  const out: RsmfCustom[] = [];
  for (const item of items) {
    const o = obj(item);
    if (!o || !keep(o)) continue;
    const name = str(o[fields.name]);
    const type = str(o[fields.type]);
    const url = str(o[fields.url]);
    const head = [name, type ? `(${type})` : undefined].filter((x) => x !== undefined).join(' ');
    const value = url ? (head ? `${head}: ${url}` : url) : head;
    if (value) out.push({ name: `${label} ${out.length + 1}`, value });
  }
  return out;
}

/**
 * The session's user as a prompt names them; the payload's display name is kept only when it is a name
 * (Graph puts `8:orgid:{id}` there for Copilot prompts).
 */
function promptAuthor(it: Json, ownerId: string): { id: string; displayName?: string } {
  const who = identityOf(it.from);
  const id = who?.id ?? ownerId;
  const name = who?.displayName && !/^\d+:orgid:/i.test(who.displayName) ? who.displayName : undefined;
  return { id, ...(name ? { displayName: name } : {}) };
}

/**
 * One event from the archived versions of one interaction, oldest first (distinct versions only). A
 * version with another body than the one before is an edit (Graph serves interactions unchanged, so
 * there is normally one version).
 */
export function buildCopilotEvent(versions: readonly Json[], o: { conversation: string; ownerId: string }): BuiltEvent {
  const latest = versions[versions.length - 1];
  if (!latest) throw new RangeError('an event needs at least one version');
  const prompt = latest.interactionType !== 'aiResponse';
  const author = prompt ? promptAuthor(latest, o.ownerId) : COPILOT_PARTICIPANT;
  const app = obj(obj(latest.from)?.application);
  const edits: NonNullable<RsmfEvent['edits']> = [];
  let body: string | undefined;
  for (const v of versions) {
    const text = interactionText(v);
    if (body !== undefined && text !== body)
      edits.push({ participant: author.id, timestamp: isoOf(v.createdDateTime) ?? '', previous: body, new: text });
    body = text;
  }
  const mentions = arr(latest.mentions)
    .map((m) => str(obj(m)?.mentionText))
    .filter((m): m is string => m !== undefined);
  const event: RsmfEvent = {
    id: textOf(latest.id),
    type: 'message',
    body: body ?? '',
    participant: author.id,
    conversation: o.conversation,
    timestamp: isoOf(latest.createdDateTime) ?? new Date(0).toISOString(),
    importance: 'normal',
    ...(edits.length > 0 ? { edits } : {}),
    custom: [
      ...custom('Graph interaction id', latest.id),
      ...custom('Interaction type', latest.interactionType),
      ...custom('Session id', latest.sessionId),
      ...custom('Request id', latest.requestId),
      ...custom('App class', latest.appClass),
      ...custom('Copilot app', app?.displayName),
      ...custom('Application id', app?.id),
      ...custom('Conversation type', latest.conversationType),
      ...custom('Locale', latest.locale),
      ...custom('Etag', latest.etag),
      ...listed(arr(latest.links), 'Link', { name: 'displayName', type: 'linkType', url: 'linkUrl' }),
      ...listed(arr(latest.contexts), 'Context', { name: 'displayName', type: 'contextType', url: 'contextReference' }),
      // Cards are in the body; the other attachments (references to meetings, files) are named here.
      ...listed(
        arr(latest.attachments),
        'Attachment',
        { name: 'name', type: 'contentType', url: 'contentUrl' },
        (a) => !/card/i.test(textOf(a.contentType)),
      ),
      ...custom('Mentions', mentions.join('; ')),
      ...custom('Archived versions', versions.length),
    ],
  };
  return { event, people: [{ ...author }], files: [] };
}

/** buildCopilotEvent, or an event that says the interaction could not be rendered (the production goes on). */
export function buildCopilotEventSafely(versions: readonly Json[], o: { conversation: string; ownerId: string }): BuiltEvent {
  try {
    return buildCopilotEvent(versions, o);
  } catch (err) {
    const latest = versions[versions.length - 1] ?? {};
    let timestamp = new Date(0).toISOString();
    try {
      timestamp = isoOf(latest.createdDateTime) ?? timestamp;
    } catch {
      // unreadable: the epoch
    }
    const id = textOf(latest.id) || '(no id)';
    const prompt = latest.interactionType !== 'aiResponse';
    const participant = prompt ? o.ownerId : COPILOT_PARTICIPANT.id;
    const event: RsmfEvent = {
      id,
      type: 'message',
      body: UNRENDERABLE_INTERACTION,
      participant,
      conversation: o.conversation,
      timestamp,
      importance: 'normal',
      custom: [
        { name: 'Graph interaction id', value: id },
        { name: 'Archived versions', value: String(versions.length) },
        { name: 'Rendering problem', value: problemOf(err) },
      ],
    };
    return { event, people: [prompt ? { id: o.ownerId } : { ...COPILOT_PARTICIPANT }], files: [] };
  }
}
