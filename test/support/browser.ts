// Debian's chromium driven by playwright-core for the browser tests (`npx playwright install` cannot
// download here): where it is, how it is launched, and what a page did (dialogs, requests, console).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Headless, no sandbox (containers), nothing of the browser's own talking to the network. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/** What the browser did on a page: dialogs, requests, console messages. */
export interface Watch {
  dialogs: string[];
  requests: string[];
  console: string[];
}

export function watch(page: Page): Watch {
  const w: Watch = { dialogs: [], requests: [], console: [] };
  page.on('dialog', (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('request', (r) => w.requests.push(r.url()));
  page.on('console', (m) => w.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => w.console.push(`pageerror: ${e.message}`));
  return w;
}
