/**
 * A person starts a run from the Temporal Web UI: headless Chromium (Debian's package, driven by
 * playwright-core) fills the Start Workflow form with one JSON object, and the run completes. And a
 * person watches runs there (issue 18): the User Metadata tab of a finished run and of a paused one
 * shows the run's summary and its current-details table; the screenshots are the README's pictures
 * (docs/img/, "Starting a run from the Web UI"; see IMG_DIR).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RetentionClient } from '../client/retention-client';
import type { RunSummary } from '../contract/messages';
import { resultWithin, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const uiUrl = process.env.TEMPORAL_UI_URL;
const HAVE_CHROMIUM = existsSync(CHROMIUM);
/**
 * Without Chromium the test is skipped on a developer's machine, but in CI (CI=true) a test that cannot
 * run must fail, not pass as skipped: the Web UI promise would otherwise go unchecked unnoticed.
 */
const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const NO_CHROMIUM = `no Chromium at ${CHROMIUM} (scripts/install-chromium.sh installs it, or set CHROMIUM_PATH)`;

let stack: Stack;
let browser: Browser;

before(async () => {
  stack = await startStack({
    vbs: { provider: 'vbs' },
    // Deletions one at a time and slowly observed, so a paused run is seen paused with work left.
    slow: { provider: 'vbs', limits: { maxConcurrent: 1, pollInterval: '500ms' } },
  });
  if (!HAVE_CHROMIUM) return; // each test then skips, or fails under CI (see NO_CHROMIUM)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // This machine has no network beyond loopback: keep Chromium from trying to phone home.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test(
  'a run started from the Web UI Start Workflow form completes',
  { skip: !HAVE_CHROMIUM && !IN_CI && NO_CHROMIUM },
  async () => {
    assert.ok(HAVE_CHROMIUM, `cannot run in CI: ${NO_CHROMIUM}`);
    assert.ok(uiUrl, 'TEMPORAL_UI_URL is set by the test runner');
    const backups = vbsBackups(3, 'ui');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const account = stack.account('vbs');
    const workflowId = `retention-cleanup/web-ui-${Date.now()}`;
    const input = {
      items: backups.map((b) => ({ account, id: b.id })),
      dryRun: false,
      label: 'started from the Web UI',
    };

    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    await page.goto(`${uiUrl}/namespaces/default/workflows/start-workflow`);
    await page.locator('#workflowId').fill(workflowId);
    await page.locator('#taskQueue').fill(stack.taskQueue);
    await page.locator('#workflowType').fill('retentionCleanup');
    const editor = page.locator('.cm-content').first();
    await editor.click();
    await page.keyboard.insertText(JSON.stringify(input));
    // Leave the editor first: the form takes the JSON on blur (it reformats it), and a click that
    // arrives during that re-render is lost.
    await page.locator('#workflowType').click();
    await page.waitForTimeout(500);
    await page.getByTestId('start-workflow-button').click();
    // The server, not the page, says whether the form started the run.
    const deadline = Date.now() + 30_000;
    while (
      !(await stack.client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          () => true,
          () => false,
        ))
    ) {
      assert.ok(Date.now() < deadline, 'the Start Workflow form did not start the run within 30 s');
      await new Promise((r) => setTimeout(r, 250));
    }

    const summary = (await stack.client.workflow.getHandle(workflowId).result()) as RunSummary;
    assert.equal(summary.counts.deleted, 3);
    assert.equal(summary.label, 'started from the Web UI');

    await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
    await page.getByText('Completed').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: '.data/test/web-ui-run.png' });
  },
);

/**
 * Where the screenshots go: .data/test on every run; the README's pictures in docs/img (committed)
 * only with RC_UPDATE_README_IMAGES=1, so a test run leaves the work tree clean (their IDs and times
 * change every run):  RC_UPDATE_README_IMAGES=1 npm test -- test/web-ui.test.ts
 */
const IMG_DIR = join(
  __dirname,
  '..',
  process.env.RC_UPDATE_README_IMAGES === '1' ? 'docs/img' : '.data/test',
);

/**
 * Opens a run's User Metadata tab and returns the markdown panes, each rendered by the UI in its own
 * iframe: Summary and Details (fixed at the start) and Current Details (queried when the tab opens).
 */
async function openUserMetadata(page: Page, workflowId: string) {
  await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
  await page.getByTestId('user-metadata-tab').click();
  // Each pane: a heading bar, then the markdown's iframe right after it.
  const pane = (heading: string) =>
    page
      .locator(
        `xpath=//h3[normalize-space()="${heading}"]/ancestor::div[contains(@class,"surface-information")][1]/following-sibling::*[1]//iframe`,
      )
      .first()
      .contentFrame();
  return { summary: pane('Summary'), details: pane('Details'), current: pane('Current Details') };
}

test(
  'the User Metadata tab of a finished run and of a paused one shows the summary and the current-details table',
  { skip: !HAVE_CHROMIUM && !IN_CI && NO_CHROMIUM },
  async () => {
    assert.ok(HAVE_CHROMIUM, `cannot run in CI: ${NO_CHROMIUM}`);
    assert.ok(uiUrl, 'TEMPORAL_UI_URL is set by the test runner');
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });

    // A finished run, as the demo makes one.
    const account = stack.account('vbs');
    const backups = vbsBackups(12, 'meta');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const runId = await rc.start({
      items: backups.map((b) => ({ account, id: b.id })),
      dryRun: false,
      label: 'demo',
    });
    const done = await resultWithin(rc, runId, 120_000);
    assert.equal(done.counts.deleted, 12);
    const finished = await openUserMetadata(page, runId);
    await finished.summary
      .getByText('EXECUTE: delete 12 backups on 1 account (demo)')
      .waitFor({ timeout: 30_000 });
    await finished.details.getByText('Label: demo').waitFor();
    await finished.current.getByText('State: completed').waitFor({ timeout: 30_000 });
    // The per-account table, as a table: the account's row has its provider and its 12 deletions.
    const row = finished.current.locator('table tr', { hasText: account });
    await row.waitFor();
    assert.deepEqual(
      (await row.locator('td').allInnerTexts()).slice(0, 3).map((t) => t.trim()),
      [account, 'vbs', '12'],
    );
    await page.screenshot({ path: join(IMG_DIR, 'web-ui-finished-run.png') });

    // A paused run: the details say so, with the table so far and how to resume.
    const slow = stack.account('slow');
    const slowBackups = vbsBackups(30, 'meta-slow');
    stack.sim.seed('vbs', stack.scope('slow'), slowBackups);
    const pausedId = await rc.start({
      items: slowBackups.map((b) => ({ account: slow, id: b.id })),
      dryRun: false,
      label: 'paused in the Web UI test',
    });
    await waitFor('a first deletion', () =>
      rc.getProgress(pausedId).then(
        (p) => p.done > 0,
        () => false,
      ),
    );
    await rc.pause(pausedId, 'maintenance window');
    await waitFor('the run to be paused', () =>
      rc.getProgress(pausedId).then(
        (p) => p.state === 'paused',
        () => false,
      ),
    );
    const paused = await openUserMetadata(page, pausedId);
    await paused.summary
      .getByText('EXECUTE: delete 30 backups on 1 account (paused in the Web UI test)')
      .waitFor({ timeout: 30_000 });
    await paused.current.getByText('State: PAUSED').waitFor({ timeout: 30_000 });
    await paused.current.getByText('Resume with the resume signal', { exact: false }).waitFor();
    await paused.current.locator('table tr', { hasText: slow }).waitFor();
    await page.screenshot({ path: join(IMG_DIR, 'web-ui-paused-run.png') });

    await rc.cancel(pausedId, 'test over');
    await resultWithin(rc, pausedId, 120_000);
    await page.close();
  },
);
