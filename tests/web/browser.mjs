// browser.mjs - headless Chromium for the end-to-end tests (tests/e2e/
// test_web.py), driven one JSON command a line on stdin, one JSON answer
// a line on stdout.  Debian's chromium through playwright-core: nothing
// is downloaded.  Each tab is a context of its own (its own
// sessionStorage, like a separate browser), and every dialog, request
// and console error of it is recorded for the test to look at.
//
//   {"op":"open","id":"a","url":U}        a new tab at U
//   {"op":"login","id":"a","name":N}      the name form
//   {"op":"type","id":"a","text":T}       a line typed and sent
//   {"op":"wait","id":"a","text":T,"ms":M}  until the log shows T
//   {"op":"eval","id":"a","js":F}         the value of a function's body
//   {"op":"click","id":"a","selector":S}
//   {"op":"reload","id":"a"}  {"op":"close","id":"a"}
//   {"op":"shot","id":"a","path":P}       a screenshot
//   {"op":"seen","id":"a"}                dialogs, requests, errors
//   {"op":"quit"}
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const pw = JSON.parse(fs.readFileSync(path.join(here, '..', '..',
  'node_modules', 'playwright-core', 'package.json'), 'utf8'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  chromiumSandbox: false,
  args: ['--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const tabs = new Map();

function answer(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

async function open(id, url, width) {
  const context = await browser.newContext({
    viewport: { width: width || 900, height: 640 },
  });
  const page = await context.newPage();
  const tab = { context, page, dialogs: [], requests: [], errors: [] };
  page.on('dialog', (d) => { tab.dialogs.push(d.message()); d.dismiss(); });
  page.on('request', (r) => tab.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') tab.errors.push(m.text());
  });
  page.on('pageerror', (e) => tab.errors.push(String(e)));
  tabs.set(id, tab);
  await page.goto(url);
}

async function run(c) {
  const tab = tabs.get(c.id);
  const page = tab && tab.page;
  switch (c.op) {
    case 'open':
      await open(c.id, c.url, c.width);
      return {};
    case 'login':
      await page.fill('input[name=user]', c.name);
      await page.press('input[name=user]', 'Enter');
      return {};
    case 'type':
      await page.fill('input[name=line]', c.text);
      await page.press('input[name=line]', 'Enter');
      return {};
    case 'wait':
      await page.locator('#log').filter({ hasText: c.text })
        .waitFor({ timeout: c.ms || 10000 });
      return {};
    case 'waitjs': {
      // Polled from here: waitForFunction would need eval, which the
      // page's Content-Security-Policy rightly forbids.
      const until = Date.now() + (c.ms || 10000);
      for (;;) {
        if (await page.evaluate(c.js)) return {};
        if (Date.now() > until) throw new Error('timed out waiting for ' + c.js);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    case 'eval':
      return { value: await page.evaluate(c.js) };
    case 'click':
      await page.click(c.selector);
      return {};
    case 'key':
      await page.keyboard.press(c.key);
      return {};
    case 'reload':
      await page.reload();
      return {};
    case 'close':
      await tab.context.close();
      tabs.delete(c.id);
      return {};
    case 'shot':
      fs.mkdirSync(path.dirname(c.path), { recursive: true });
      await page.screenshot({ path: c.path });
      return {};
    case 'seen':
      return { dialogs: tab.dialogs, requests: tab.requests,
        errors: tab.errors };
    default:
      throw new Error('unknown op ' + c.op);
  }
}

answer({ ready: true, chromium: browser.version(), playwright: pw.version });
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  let c;
  try { c = JSON.parse(line); } catch (e) { answer({ error: String(e) }); continue; }
  if (c.op === 'quit') break;
  try {
    answer(Object.assign({ ok: true }, await run(c)));
  } catch (e) {
    answer({ ok: false, error: String(e && e.message || e) });
  }
}
await browser.close();
