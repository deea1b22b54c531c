/**
 * A person starts a run from the Temporal Web UI: headless Chromium (Debian's package, driven by
 * playwright-core) fills the Start Workflow form with one JSON object, and the run completes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { RunSummary } from '../contract/messages';
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
  stack = await startStack({ vbs: { provider: 'vbs' } });
  if (!HAVE_CHROMIUM) return;
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
