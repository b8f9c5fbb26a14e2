// Drives the status page in Debian's headless chromium (run by tests/api/browser.rs).
//
//   node tests/browser/status_page.mjs <base-url> <screenshot-path>
//
// <base-url> is the page's URL without the trailing slash (with the route prefix, if any).
// Expects exactly the two groups tests/api/browser.rs pushes: job="browser_a" (a gauge) and
// job="browser_b" (a histogram and a summary). Opens both, checks their metrics, saves a
// screenshot, deletes browser_a with its button and the confirmation dialog, and checks that
// it is gone, also after a reload. Exits non-zero with a reason on the first failed check.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !screenshotPath) {
  console.error('usage: node status_page.mjs <base-url> <screenshot-path>');
  process.exit(2);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'pushgateway-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    timezoneId: 'UTC',
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15000);

  // Any script error or failed request of the page's own URLs fails the test.
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });

  const response = await page.goto(`${baseUrl}/`);
  check(response.ok(), `GET ${baseUrl}/ answered ${response.status()}`);
  check(await page.title() === 'Pushgateway', 'page title');

  // Stylesheet and script loaded (relative links resolved under the prefix).
  const styled = await page.evaluate(() => getComputedStyle(document.querySelector('.topbar')).position);
  check(styled === 'sticky', `stylesheet not applied (topbar position ${styled})`);

  const groups = page.locator('#group-list > .group');
  await groups.first().waitFor();
  check(await groups.count() === 2, `expected 2 groups, found ${await groups.count()}`);
  check(await page.locator('#group-count').textContent() === '2', 'group counter shows 2');

  const groupA = groups.filter({ hasText: 'job="browser_a"' });
  const groupB = groups.filter({ hasText: 'job="browser_b"' });
  check(await groupA.count() === 1, 'group browser_a is listed');
  check(await groupB.count() === 1, 'group browser_b is listed');
  check((await groupA.locator('.labels').textContent()).includes('instance="one"'), 'browser_a shows its instance');

  // Opening a group loads its families.
  await groupA.locator('button.toggle').click();
  await groupA.locator('.family').first().waitFor();
  const familiesA = await groupA.locator('.families').textContent();
  check(familiesA.includes('browser_test_gauge'), 'browser_a shows browser_test_gauge');
  check(familiesA.includes('42.5'), 'browser_a shows the value 42.5');
  check(familiesA.includes('push_time_seconds'), 'browser_a shows push_time_seconds');

  await groupB.locator('button.toggle').click();
  await groupB.locator('.family').first().waitFor();
  const familiesB = await groupB.locator('.families').textContent();
  check(familiesB.includes('browser_latency_seconds'), 'browser_b shows its histogram');
  check(familiesB.includes('≤ 0.5'), 'histogram bucket rows are shown');
  check(familiesB.includes('browser_rpc_seconds'), 'browser_b shows its summary');
  check(familiesB.includes('quantile 0.99'), 'summary quantile rows are shown');

  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });

  // Delete browser_a with its button; cancel first, then confirm.
  await groupA.locator('button.delete').click();
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible' });
  await page.locator('#confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
  check(await groups.count() === 2, 'cancelling keeps the group');

  await groupA.locator('button.delete').click();
  await dialog.waitFor({ state: 'visible' });
  check((await dialog.textContent()).includes('browser_a'), 'the dialog names the group');
  await page.locator('#confirm-ok').click();
  await groupA.waitFor({ state: 'detached' });
  check(await groups.count() === 1, 'one group left after the delete');
  check(await page.locator('#group-count').textContent() === '1', 'group counter shows 1');

  await page.reload();
  await groups.first().waitFor();
  check(await groups.count() === 1, 'one group after a reload');
  check(await groupA.count() === 0, 'browser_a is gone after a reload');
  check(await groupB.count() === 1, 'browser_b is still there');

  check(problems.length === 0, problems.join('; '));
  console.log(`status page ok: ${baseUrl}`);
} catch (error) {
  console.error(error.stack ?? String(error));
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
