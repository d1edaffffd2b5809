// Message bodies a hostile sender could write: script, event handlers, javascript: links, SVG and
// style payloads. The emulator posts them as HTML bodies so the viewer's sanitizing is tested against
// what Graph would really hand over. Each payload carries readable text that must survive.
import type { PostTarget, Tenant } from './tenant';

export const HOSTILE_BODIES: readonly string[] = [
  '<p>script payload readable</p><script>alert("xss-script")</script><script src="https://evil.example/x.js"></script>',
  '<p>onerror payload readable</p><img src="https://evil.example/pixel.png" onerror="alert(\'xss-onerror\')"><img src=x onerror=alert(1)>',
  '<p>javascript link payload readable <a href="javascript:alert(\'xss-link\')">click me</a> <a href="JaVaScRiPt:alert(1)">again</a> <a href="https://example.org/ok">a fine link</a></p>',
  '<p>svg payload readable</p><svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'xss-svg\')"><script>alert("svg-script")</script><a href="javascript:alert(2)"><text>svg text</text></a></svg>',
  '<p style="background:url(https://evil.example/bg.png)">style payload readable</p><style>@import url("https://evil.example/evil.css"); body { background: url(https://evil.example/b.png) }</style><div style="position:fixed;inset:0;background-image:url(https://evil.example/c.png)">overlay text</div>',
  '<p>iframe and form payload readable</p><iframe src="https://evil.example/frame"></iframe><form action="https://evil.example/post"><input name="a"><button>go</button></form><object data="https://evil.example/o.swf"></object><meta http-equiv="refresh" content="0;url=https://evil.example/">',
];

/** Posts every hostile body, one second apart from `atMs`, into a chat or channel; returns the message ids. */
export function postHostileMessages(tenant: Tenant, target: PostTarget, atMs: number, fromUserId?: string): string[] {
  return HOSTILE_BODIES.map((text, i) =>
    tenant.postMessage(target, { text, atMs: atMs + i * 1000, html: true, ...(fromUserId !== undefined ? { fromUserId } : {}) }),
  );
}
