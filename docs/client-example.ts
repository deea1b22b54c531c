/**
 * The programmatic client, end to end: start a DRY RUN against the demo stack, follow its progress,
 * print the summary and every item's outcome.
 *
 *   npm run demo                      # terminal 1: Temporal dev server, simulator (:7780), worker
 *   npx tsx docs/client-example.ts    # terminal 2
 *
 * Against another cluster, set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY (or a
 * TEMPORAL_PROFILE) and use account names from that worker's config. Nothing is deleted: the request
 * has no `dryRun: false`.
 */
import {
  InvalidRequestError,
  RetentionClient,
  writeReport,
  type CleanupRequestInput,
  type RunProgress,
} from '../client';

async function main(): Promise<number> {
  const rc = await RetentionClient.connect({ connectTimeout: '5s' });
  try {
    // Accounts are names from the worker's config (config/demo.yaml); items are provider backup ids.
    const request: CleanupRequestInput = {
      label: 'client example',
      items: [
        ...Array.from({ length: 10 }, (_, i) => ({
          account: 'vbs-demo',
          id: `vbs-bk-${String(i).padStart(3, '0')}`,
        })),
        { account: 'vbs-demo', id: 'vbs-bk-already-gone' },
      ],
      // dryRun defaults to true: every item ends "skipped" and no provider delete endpoint is called.
    };

    let workflowId: string;
    try {
      workflowId = await rc.start(request, { startedBy: 'docs/client-example.ts' });
    } catch (err) {
      // Thrown before Temporal is contacted; one line per problem, naming the field.
      if (err instanceof InvalidRequestError) {
        for (const p of err.problems) console.error(`invalid request: ${p}`);
        return 2;
      }
      throw err;
    }
    console.log(`started ${workflowId}`);

    const summary = await rc.follow(workflowId, {
      intervalMs: 1000, // each progress query is a billable action on Temporal Cloud
      onProgress: (p: RunProgress) =>
        console.log(`  ${p.state}: ${p.done}/${p.total} done, ${p.inFlight} in flight`),
    });
    console.log(`\nfinished: ${summary.total} items`, summary.counts);
    for (const problem of summary.firstProblems)
      console.log(`  ${problem.outcome}: ${problem.id}: ${problem.reason}`);

    console.log('\nreport (CSV, the run summary as # records first):');
    const written = await writeReport(
      rc.report(workflowId),
      process.stdout,
      'csv',
      await rc.reportSummary(workflowId),
    );
    console.log(`\n${written} outcomes`);
    return summary.counts.failed + summary.counts.blocked > 0 ? 1 : 0;
  } finally {
    await rc.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(3);
  },
);
