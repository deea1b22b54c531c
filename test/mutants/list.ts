/**
 * The planted bugs `npm run mutants` applies one at a time (scripts/mutants.ts). Each one breaks a
 * promise of README "Guarantees" the way a plausible edit would, and names the tests that must catch
 * it. A planted bug the tests do not catch is a missing test: write it, do not weaken the bug.
 * docs/testing.md, "Planted bugs and mutation score", has the table of what killed each.
 *
 * `find` must occur exactly once in `file` (`npm run mutants -- --check`): when the code moves on, a
 * stale entry fails loudly instead of silently testing nothing.
 */
import type { PlantedBug } from './types';

export type { PlantedBug } from './types';

const SAFETY = 'test/deletion-safety.test.ts';
const NOTIFY = 'test/notifications.test.ts';
const MISCONFIGURED = 'test/misconfigured-endpoint.test.ts';
/** Written for the guard bugs test/guards.test.ts let through (boundaries, ceilings). */
const GUARDS_EDGES = 'test/guards-boundaries.test.ts';

/** A Huawei dialect that reads every 404 as the service's own not-found, marker or not. */
const huawei404AsGone = (dialect: string, file: string, marker: string): PlantedBug => ({
  id: `${dialect}-404-without-marker-gone`,
  file,
  find: `  marker: '${marker}',\n`,
  replace: `  marker: '${marker}',\n  special: ({ res, info }, what) =>\n    res.status === 404 ? new ProviderError('not-found', what, info) : undefined,\n`,
  tests: [MISCONFIGURED],
  names: `^(${dialect}: |runs against|every adapter)`,
  why: `A misconfiguration never reads as success: a ${dialect.toUpperCase()} 404 without ${marker} (a typo'd endpoint) would report every item absent.`,
});

export const PLANTED_BUGS: PlantedBug[] = [
  // ---- Never repeated / One deletion per backup ----
  {
    id: 'veeam-heartbeat-resume-ignored',
    file: 'activities/deletion/single.ts',
    find: "  let progress = saved?.phase === 'accepted' ? saved : undefined;",
    replace: '  let progress = undefined as DeletionProgress | undefined;',
    tests: ['test/veeam-crash-resume.test.ts'],
    why: 'Never repeated: a retried attempt ignores the accepted session in its heartbeat and posts deleteBackups again (a second Veeam job session).',
  },
  {
    id: 'group-resumed-handles-dropped',
    file: 'activities/deletion/group.ts',
    find: '    (_, i) => saved?.group[i] ?? (resumed[i] ? { accepted: resumed[i].accepted } : undefined),',
    replace: '    (_, i) => saved?.group[i] ?? undefined,',
    tests: ['test/pipelined-groups.test.ts'],
    names: 'hands its deletions in progress',
    why: 'One deletion per backup: a pipelined group forgets the deletions the previous group handed over and deletes them again.',
  },
  {
    id: 'lane-concurrency-off-by-one',
    file: 'workflows/account-lane.ts',
    find: '      this.inFlight + picks.length < this.concurrency() &&',
    replace: '      this.inFlight + picks.length <= this.concurrency() &&',
    tests: ['test/lanes-concurrency.test.ts'],
    names: 'at most 5 deletions at once',
    why: 'The concurrency limit: the lane starts maxConcurrent + 1 deletions at once.',
  },
  {
    id: 'csbs-delete-whole-checkpoint',
    file: 'activities/providers/csbs.ts',
    find: '(checkpointId)}?checkpoint_items=${encodeURIComponent(item.id)}`,',
    replace: '(checkpointId)}`,',
    tests: ['test/csbs.test.ts'],
    names: 'CSBS adapter against the simulator',
    why: 'One deletion per backup: a CSBS delete without checkpoint_items deletes every backup of the checkpoint.',
  },
  {
    id: 'lane-ledger-join-removed',
    file: 'workflows/lane/ledger.ts',
    find: '    if (r && r.batch !== batch) {',
    replace: '    if (r && r.batch !== batch && false) {',
    tests: [SAFETY],
    names: 'one job session per VM',
    why: 'One deletion per backup: the same Veeam VM queued by two runs (or two pages) starts two deletions instead of the second joining the first.',
  },
  {
    id: 'lane-ledger-finished-forgotten',
    file: 'workflows/lane/ledger.ts',
    find: '    if (!f || f.at <= now - FINISHED_TTL_MS) return undefined;',
    replace: '    return undefined;',
    tests: ['test/lane-state.test.ts', SAFETY],
    names: 'after a confirmed deletion|deleted once, reported once',
    why: 'One deletion per backup: a backup whose deletion the lane just confirmed is sent again when a re-sent chunk repeats it.',
  },
  {
    id: 'run-dedup-removed',
    file: 'workflows/retention-cleanup.ts',
    find: '    const unique = uniqueBy(items, itemKey);',
    replace: '    const unique = items;',
    tests: ['test/run-dedup.test.ts'],
    names: 'in the start items',
    why: 'Exactly one outcome: the same backup twice in a run is counted, batched and reported twice.',
  },
  {
    id: 'batch-dedup-removed',
    file: 'workflows/batch/batch-items.ts',
    find: '      if (this.expected.has(key)) return false;',
    replace: '',
    tests: ['test/run-dedup.test.ts'],
    names: 'in one batch',
    why: 'Exactly one outcome: a batch given the same item twice keeps both and waits for two outcomes.',
  },

  // ---- Guards hold on every run ----
  {
    id: 'guard-max-deletions-inverted',
    file: 'policy/guards.ts',
    find: '  if (guards.maxDeletions !== undefined && total > guards.maxDeletions) {',
    replace: '  if (guards.maxDeletions !== undefined && total <= guards.maxDeletions) {',
    tests: ['test/guards.test.ts', GUARDS_EDGES],
    why: 'Guards hold on every run: maxDeletions stops the runs within it and lets the ones over it delete.',
  },
  {
    id: 'guard-max-deletions-off-by-one',
    file: 'policy/guards.ts',
    find: '  if (guards.maxDeletions !== undefined && total > guards.maxDeletions) {',
    replace: '  if (guards.maxDeletions !== undefined && total > guards.maxDeletions + 1) {',
    tests: ['test/guards.test.ts', GUARDS_EDGES],
    why: 'Guards hold on every run: a run of maxDeletions + 1 deletions passes.',
  },
  {
    id: 'guard-per-account-off-by-one',
    file: 'policy/guards.ts',
    find: '    if (perRequest !== undefined && n > perRequest)',
    replace: '    if (perRequest !== undefined && n >= perRequest)',
    tests: ['test/guards.test.ts', GUARDS_EDGES],
    why: 'Guards hold on every run: an account with exactly maxDeletionsPerAccount deletions is refused (a run that should run stops).',
  },
  {
    id: 'guard-fraction-off-by-one',
    file: 'policy/guards.ts',
    find: '  if (deleted <= allowed) return undefined;',
    replace: '  if (deleted <= allowed + 1) return undefined;',
    tests: ['test/guards.test.ts', GUARDS_EDGES],
    why: 'Guards hold on every run: one backup more than maxFractionPerAccount/Group allows passes.',
  },
  {
    id: 'guard-ceiling-ignored',
    file: 'policy/guards.ts',
    find: '    const ceiling = ceilings.get(account);',
    replace: '    const ceiling = undefined as number | undefined;',
    tests: ['test/guards.test.ts', GUARDS_EDGES],
    why: "Guards hold on every run: the worker config's maxDeletionsPerRun is not applied.",
  },
  {
    id: 'item-list-count-guards-skipped',
    file: 'workflows/retention-cleanup.ts',
    find: '    const counted = this.discovered?.planned ?? tally;',
    replace: '    const counted = this.discovered?.planned ?? new Map<string, number>();',
    tests: [SAFETY],
    names: 'crossing maxDeletions|maxDeletionsPerRun holds',
    why: 'Guards hold on every run: an item list of 20 with maxDeletions 5 deletes all 20 (the count guards judged only policy plans).',
  },
  {
    id: 'plan-once-hash-unchecked',
    file: 'activities/discover.ts',
    find: '  if (resumeFrom > 0 && saved?.planHash && saved.planHash !== planHash) {',
    replace: '  if (false) {',
    tests: ['test/plan-once.test.ts'],
    why: 'Guards hold on every run: a retried discovery whose listing changed emits a second, unchecked plan after pages of the first.',
  },

  // ---- Nothing deleted unless asked ----
  {
    id: 'dry-run-default-flipped',
    file: 'contract/request.ts',
    find: "    dryRun: z.boolean({ error: 'expected true or false' }).default(true),",
    replace: "    dryRun: z.boolean({ error: 'expected true or false' }).default(false),",
    tests: ['test/provider-promises.test.ts'],
    names: 'without dryRun',
    why: 'Nothing deleted unless asked: a Web UI start without dryRun deletes.',
  },

  // ---- A misconfiguration never reads as success ----
  {
    // VBS has a `special` reading already: the planted line goes first in it.
    ...huawei404AsGone('vbs', 'activities/providers/vbs.ts', 'itemNotFound'),
    find: '    if (res.status !== 400 || !message) return undefined;\n',
    replace:
      "    if (res.status === 404) return new ProviderError('not-found', what, info);\n    if (res.status !== 400 || !message) return undefined;\n",
  },
  huawei404AsGone('csbs', 'activities/providers/csbs.ts', 'CSBS.3001'),
  huawei404AsGone('taurusdb', 'activities/providers/taurusdb.ts', 'DBS.201203 or DBS.201010'),
  {
    id: 'jsa-404-without-marker-gone',
    file: 'activities/providers/jsa.ts',
    find: "      if (code === JSA_CODE_NOT_FOUND) return new ProviderError('not-found', `${what}: ${detail}`, info);",
    replace: "      return new ProviderError('not-found', `${what}: ${detail}`, info);",
    tests: [MISCONFIGURED],
    names: '^(jsa: |every adapter)',
    why: 'A misconfiguration never reads as success: a JSA 404 without code 1001 would report every item absent.',
  },
  {
    id: 'veeam-404-without-marker-gone',
    file: 'activities/providers/veeam.ts',
    find: "    if (problem) return new ProviderError('not-found', `${what}: ${message}`, info);",
    replace: "    return new ProviderError('not-found', `${what}: ${message}`, info);",
    // The end-to-end typo'd Veeam endpoint fails at the token request already (misconfigured there):
    // the delete and poll answers are read by classifyVeeam, whose contract test/veeam.test.ts holds.
    tests: ['test/veeam.test.ts', MISCONFIGURED],
    names: '^404|^(veeam: |every adapter)',
    why: 'A misconfiguration never reads as success: a Veeam 404 without a problem document would report every VM absent.',
  },
  {
    id: 'misconfigured-circuit-removed',
    file: 'workflows/account-lane.ts',
    find: '    if (this.ledgerOn && isMisconfiguration(outcome)) this.misconfigured(outcome.reason);',
    replace: '',
    tests: [MISCONFIGURED],
    names: "circuit opens|runs against a typo'd endpoint",
    why: 'A misconfiguration never reads as success: after the first misconfigured answer the lane keeps sending every queued item to the wrong endpoint.',
  },

  // ---- Temporal's controls stop deletions ----
  {
    id: 'run-liveness-gate-open',
    file: 'activities/run-liveness.ts',
    find: "      return d.status.name === 'RUNNING' ? undefined : d.status.name;",
    replace: '      return undefined;',
    tests: [SAFETY],
    names: 'terminated run leaves no batch deleting',
    why: "Temporal's controls stop deletions: batches and lanes of a terminated run keep deleting.",
  },

  // ---- The config is the authority ----
  {
    id: 'lane-limits-from-run',
    file: 'activities/index.ts',
    find: '      const limits = configured ? accountLimits(req.limits.name, configured) : req.limits;',
    replace: '      const limits = req.limits;',
    tests: [SAFETY],
    names: 'lowered maxConcurrent',
    why: 'The config is the authority: a run started before maxConcurrent was lowered pushes the lane back up.',
  },
  {
    id: 'csbs-ceiling-off-by-one',
    file: 'worker/config.ts',
    find: '        if (a.limits.maxConcurrent > CSBS_MAX_CONCURRENT_DELETIONS)',
    replace: '        if (a.limits.maxConcurrent > CSBS_MAX_CONCURRENT_DELETIONS + 1)',
    tests: ['test/bad-input.test.ts'],
    names: 'broken worker configs',
    why: 'The config is the authority: a CSBS account at maxConcurrent 6 loads, and its sixth deletion waits in the provider queue until its deadline.',
  },
  {
    id: 'csbs-ceiling-too-strict',
    file: 'worker/config.ts',
    find: '        if (a.limits.maxConcurrent > CSBS_MAX_CONCURRENT_DELETIONS)',
    replace: '        if (a.limits.maxConcurrent >= CSBS_MAX_CONCURRENT_DELETIONS)',
    tests: ['test/bad-input.test.ts'],
    names: 'broken worker configs',
    why: 'The config is the authority: a CSBS account at the provider ceiling (5) is refused.',
  },
  // ---- added with the chaos run's findings and the issue-12 items that had no planted bug ----
  {
    id: 'timed-out-request-read-as-answered',
    file: 'activities/deletion/shared.ts',
    find: "  if (err.kind !== 'transient') return false;",
    replace: '  return false;',
    tests: ['test/resume-from-heartbeat.test.ts'],
    names: 'timed out after it was sent',
    why: 'The report never contradicts the provider: a delete request that timed out after the provider carried it out is recorded as answered, so the retry reports the backup absent.',
  },
  {
    id: 'stopped-run-unanswered-requested-again',
    file: 'activities/deletion/shared.ts',
    find: '  return { outcome: notRequested(item, stopped) };\n}',
    replace: '  return adapter.requestDeletion(item, call).then((handle) => ({ accepted: { handle } }));\n}',
    tests: ['test/resume-from-heartbeat.test.ts'],
    names: 'run stopped since',
    why: "Temporal's controls stop deletions: a retried attempt whose run was cancelled requests an unanswered item again, deleting a backup after the cancel.",
  },
  {
    id: 'veeam-requesting-not-awaited',
    file: 'activities/deletion/veeam-once.ts',
    find: '  await recorded();\n',
    replace: '  void recorded;\n  await ctx.sleep(300);\n',
    tests: ['test/veeam-crash-window.test.ts'],
    names: 'slow link',
    why: 'Never repeated: the POST goes out 300 ms after the "requesting" heartbeat was sent, not once the server holds it; a worker dying with the heartbeat on a slow link leaves a retry that posts a second session.',
  },
  {
    id: 'ledger-answered-run-forgotten',
    file: 'workflows/lane/ledger.ts',
    find: '    if (!f.runs.includes(run)) f.runs.push(run);\n',
    replace: '',
    tests: ['test/lane-state.test.ts'],
    why: 'Exactly one outcome: a run answered from the ledger that asks for the same backup again (a later page) gets a second outcome instead of a merged duplicate.',
  },
  {
    id: 'accepted-odd-veeam-session-failed',
    file: 'activities/providers/veeam.ts',
    find: "      if (s.type !== 'BackupDeletion')\n",
    replace:
      "      if (s.type !== 'BackupDeletion')\n        throw new ProviderError('malformed', `${what}: field type`, { status: res.status });\n      if (s.type !== 'BackupDeletion')\n",
    tests: ['test/accepted-delete-handle.test.ts'],
    why: 'An accepted delete keeps its handle: a session of an unexpected type fails the item while the appliance deletes, and the session id is lost.',
  },
  {
    id: 'listing-offset-ignored-trusted',
    file: 'activities/listing.ts',
    find: '    if (answered !== undefined && answered !== asked)\n',
    replace: '    if (answered !== undefined && answered !== asked && false)\n',
    tests: ['test/listing-trust.test.ts'],
    why: "Listings that can't be trusted are not planned on: a Veeam page that ignores Offset is planned on, and the policy deletes VMs whose newest restore point was never seen.",
  },
  {
    id: 'account-lookup-inherited',
    file: 'workflows/keyed.ts',
    find: '  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;\n',
    replace: '  return record[key];\n',
    tests: [SAFETY],
    names: 'Object property',
    why: 'Names looked up safely: an account called `constructor` finds Object.prototype.constructor and the run hangs instead of failing with UnknownAccount.',
  },
  {
    id: 'secrets-yaml-message-quoted',
    file: 'worker/secrets-file.ts',
    find: '    const what = YAML_PROBLEMS[err.code] ?? `a YAML syntax error (${err.code})`;\n',
    replace: '    const what = err.message;\n',
    tests: ['test/secrets-file.test.ts'],
    names: 'general terms',
    why: "Credentials stay in the worker: the YAML parser's own message quotes the secret's line into the activity failure, history and report.",
  },
  {
    id: 'csv-formula-not-neutralised',
    file: 'client/report.ts',
    find: "  const safe = FORMULA_START.test(value) ? `'${value}` : value;\n",
    replace: '  const safe = value;\n',
    tests: ['test/csv-report.test.ts'],
    why: "Secrets and the codec (CSV): a provider message starting with = runs as a formula in the operator's spreadsheet.",
  },
  // ---- Approving deletions (issue 14) ----
  {
    id: 'approve-wrong-hash-accepted',
    file: 'workflows/run/approval-gate.ts',
    find: '    if (input.planHash !== this.c.planHash)\n',
    replace: '    if (input.planHash === undefined)\n',
    tests: ['test/approval.test.ts'],
    names: 'a wrong hash is refused',
    why: 'Approving deletions: an approval naming another plan (a stale hash, a plan that changed) is taken, and the run deletes a set nobody approved.',
  },
  {
    id: 'approved-set-not-enforced',
    file: 'workflows/retention-cleanup.ts',
    find: '        const changed = results.flatMap((r) => r.changed);\n',
    replace: '        const changed: string[] = [];\n',
    tests: ['test/approval.test.ts'],
    names: 'a wrong hash is refused',
    why: 'Approving deletions: after approval a policy run deletes an approved backup the rules would no longer delete (protected since), instead of skipping it "plan changed since approval".',
  },
  // ---- Notifications (docs/operations.md, "Notifications") ----
  {
    id: 'notify-url-in-result',
    file: 'activities/notify.ts',
    find: '      return result;\n    },\n  };\n',
    replace:
      '      return { ...result, sentTo: matching.map(({ n }) => n.url) } as NotificationResult;\n    },\n  };\n',
    tests: [NOTIFY],
    names: 'no URL in any history',
    why: "Credentials stay in the worker: the activity reports where it sent, and a webhook URL (often a secret, like a Slack one) lands in the run's history.",
  },
  {
    id: 'notify-lane-waits',
    file: 'workflows/account-lane.ts',
    find: '    for (;;) {\n      this.dirty = false;\n      this.draining',
    replace:
      '    for (;;) {\n      await notificationsSent();\n      this.dirty = false;\n      this.draining',
    tests: [NOTIFY],
    names: 'circuit-open',
    why: 'Notifications never delay a deletion: a lane that waits for its circuit-open webhook holds every outcome (and the run) until the webhook answers or its retries end.',
  },
  {
    id: 'notify-run-end-not-awaited',
    file: 'workflows/retention-cleanup.ts',
    find: '    await notificationsSent();\n  }\n',
    replace: '  }\n',
    tests: [NOTIFY],
    names: 'run-finished reaches',
    why: 'Notifications: a run that completes without waiting for its run-finished notification drops it (the activity is scheduled but never runs).',
  },
];
