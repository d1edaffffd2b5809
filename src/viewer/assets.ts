// The viewer's only stylesheet and script, shipped inside the package (no CDN): served by the viewer
// at assets/, copied beside the offline transcripts. The script only adds the reader's local time.

export const VIEWER_CSS = `:root { --fg: #242424; --muted: #616161; --line: #e0e0e0; --accent: #5b5fc7; --bg: #f5f5f5; --card: #fff; --del: #a4262c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "Segoe UI", system-ui, -apple-system, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #ebebf5; border-bottom: 1px solid var(--line); padding: 8px 24px; }
.crumbs a { color: var(--accent); text-decoration: none; }
.crumbs .sep { color: var(--muted); margin: 0 4px; }
main { max-width: 980px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0; }
h2 { font-size: 17px; margin: 20px 0 8px; }
h3 { font-size: 15px; margin: 12px 0 4px; }
a { color: var(--accent); }
.meta, .id { color: var(--muted); font-size: 12px; }
.id { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
ul.entities, ul.days, ol.hits { padding-left: 20px; }
ul.days { display: flex; flex-wrap: wrap; gap: 6px 14px; list-style: none; padding: 0; }
form { margin: 8px 0; }
input, button { font: inherit; padding: 3px 6px; }
.conversation-day { display: flex; flex-direction: column; gap: 10px; }
.thread { background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
.thread > .message { border: 0; }
.missing-root { padding: 6px 12px; }
.replies { border-top: 1px solid var(--line); padding-left: 36px; background: #fafafa; }
.replies .message { border: 0; border-bottom: 1px solid #eee; border-radius: 0; background: transparent; }
.message { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.message.system { background: transparent; border-style: dashed; color: var(--muted); }
.head { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
.sender { font-weight: 600; }
time, .local-time { color: var(--muted); font-size: 12px; }
.local-time::before { content: "· "; }
.badge { font-size: 11px; color: var(--muted); border: 1px solid var(--line); border-radius: 8px; padding: 0 6px; }
.deleted-badge { color: var(--del); border-color: var(--del); }
.message.deleted .body { color: var(--muted); text-decoration: line-through; }
.subject { font-weight: 600; margin-top: 4px; }
.body { margin-top: 4px; overflow-wrap: anywhere; }
.body img { max-width: 100%; height: auto; }
.body p { margin: 0 0 4px; }
.mention { color: var(--accent); font-weight: 600; }
.missing { color: var(--muted); font-style: italic; }
.source { margin-left: auto; font-size: 11px; }
.source a { color: var(--muted); }
ul.attachments, ul.reactions { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 6px; }
.reaction { border: 1px solid var(--line); border-radius: 12px; padding: 0 8px; font-size: 12px; }
.reaction .who { color: var(--muted); }
.snippet pre { background: #f0f0f0; padding: 8px; border-radius: 4px; overflow: auto; max-height: 320px; }
details.versions { margin-top: 6px; font-size: 13px; }
details.versions summary { cursor: pointer; color: var(--muted); }
details.versions ol { margin: 4px 0; padding-left: 20px; }
.version { border-left: 3px solid var(--line); padding-left: 8px; margin: 4px 0; }
.problem { background: #fdf3f4; border: 1px solid #eeacb2; padding: 8px 12px; border-radius: 4px; }
.hit { color: var(--fg); white-space: pre-wrap; margin: 2px 0 8px; }
:target { outline: 2px solid var(--accent); }
.pager { margin: 8px 0; }
.pager a, .pager b { margin: 0 3px; }
.copilot-session { margin: 16px 0; }
.copilot-session h2 { margin-bottom: 2px; }
.message.copilot-prompt { border-left: 3px solid var(--accent); }
.message.copilot-answer { background: #f7f7fd; }
.copilot-links, .copilot-contexts, .copilot-mentions { margin-top: 6px; font-size: 13px; }
.copilot-links ul, .copilot-contexts ul { display: inline; padding: 0; margin: 0 0 0 6px; list-style: none; }
.copilot-links li, .copilot-contexts li { display: inline; margin-right: 12px; }
ul.sessions, ul.meeting-days { padding-left: 20px; }
.meeting-artifacts { margin: 12px 0 20px; }
.meeting { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.meeting h4 { font-size: 14px; margin: 8px 0 4px; }
ol.transcript { list-style: none; padding: 0; margin: 4px 0; max-height: 480px; overflow: auto; }
.cue { padding: 2px 0; }
.cue-time { color: var(--muted); font-size: 12px; font-family: ui-monospace, monospace; margin-right: 6px; }
.speaker { font-weight: 600; margin-right: 6px; }
`;

export const VIEWER_JS = `'use strict';
// Adds the reader's local time beside every UTC <time> of the page.
(function () {
  function localTimes() {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
    } catch (e) {
      return;
    }
    var times = document.querySelectorAll('time[datetime]');
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) continue;
      t.title = d.toISOString();
      var local = document.createElement('span');
      local.className = 'local-time';
      local.textContent = fmt.format(d);
      t.insertAdjacentElement('afterend', local);
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', localTimes);
  else localTimes();
})();
`;
