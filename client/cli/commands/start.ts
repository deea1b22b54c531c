import { fmtInt } from '../../render';
import { InvalidRequestError, validateRequest } from '../../request-validation';
import { defineCommand, durationOption } from '../command';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT } from '../errors';
import { FOLLOW_OPTIONS, followRun } from '../follow';
import { announceMode, requestWithMode } from '../input';
import { print, printJson, say } from '../io';

export const start = defineCommand({
  name: 'start',
  args: ['request-file'],
  summary: 'start a cleanup run (a DRY RUN unless --execute); --follow to watch it',
  description: `Starts a cleanup run with the request in the file (JSON or YAML; "-" reads stdin), e.g.
  {"label": "nightly", "items": [{"account": "vbs-prod", "id": "5f0c..."}]}
Nothing is deleted unless --execute is given: the file's own "dryRun" is ignored (without --execute
the run is a dry run and every item ends "skipped"). The request is validated before Temporal is
contacted; any number of items (the client sends them in pages of 1,000).`,
  options: {
    execute: { type: 'boolean', help: 'really delete (sets dryRun: false)' },
    ...FOLLOW_OPTIONS,
    json: {
      type: 'boolean',
      help: 'machine-readable output on stdout (the workflow ID, or with --follow the summary)',
    },
    'workflow-id': {
      type: 'string',
      value: 'ID',
      help: "the run's workflow ID (default retention-cleanup/<label>-<random>)",
    },
    'task-queue': { type: 'string', value: 'Q', help: "the workers' task queue (default retention-cleanup)" },
    ...CONNECTION_OPTIONS,
  },
  async run({ args, values }) {
    const file = args['request-file'];
    const execute = Boolean(values.execute);
    const intervalMs = durationOption('interval', values.interval);
    const { raw, fileDryRun } = requestWithMode(file, execute);
    const checked = validateRequest(raw);
    if (!checked.ok) throw new InvalidRequestError(checked.problems, `request in ${file}`);
    const { items, duplicatesMerged, request } = checked.value;
    announceMode(execute, fileDryRun);
    if (duplicatesMerged) say(`${fmtInt(duplicatesMerged)} duplicate item(s) merged`);

    return withClient(values, values['task-queue'], async (rc) => {
      const workflowId = await rc.start(raw as never, {
        ...(values['workflow-id'] ? { workflowId: values['workflow-id'] } : {}),
        startedBy: 'cli',
      });
      const mode = request.dryRun ? 'dry run' : 'EXECUTE run';
      say(`started ${mode} ${workflowId}: ${fmtInt(items.length)} item(s) on task queue "${rc.taskQueue}"`);
      if (values.follow) return followRun(rc, workflowId, { json: Boolean(values.json), intervalMs });
      if (values.json)
        printJson({ workflowId, dryRun: request.dryRun, items: items.length, taskQueue: rc.taskQueue });
      else {
        print(workflowId);
        say(`follow it: retention-cleanup status ${workflowId}`);
      }
      return EXIT.OK;
    });
  },
});
