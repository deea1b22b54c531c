import { setupNamespace as registerSearchAttributes, type NamespaceSetup } from '../../namespace-setup';
import { table } from '../../render';
import { errorMessage } from '../../retention-client';
import { defineCommand } from '../command';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT, grpcCode, UsageError } from '../errors';
import { print, printJson, say } from '../io';

export const setupNamespace = defineCommand({
  name: 'setup-namespace',
  summary: 'register the search attributes runs set (once per namespace)',
  description: `Registers the search attributes every run sets (RetentionAccounts, RetentionDryRun, ...) on the
namespace, through Temporal's operator service: once per namespace of a real cluster, before the
first run (a run whose attributes are not registered cannot progress). Attributes already registered
with the right type are left alone, so running it again changes nothing. Prints each attribute and
what was done. Exit 2 when the namespace does not exist, or when an attribute is registered with
another type: then nothing is added, and the message names it. On Temporal Cloud, add them in the
Cloud UI or with tcld (docs/operations.md, "Namespace setup").`,
  options: { json: { type: 'boolean', help: 'the result as JSON on stdout' }, ...CONNECTION_OPTIONS },
  async run({ values }) {
    return withClient(values, undefined, async (rc) => {
      const namespace = rc.client.options.namespace;
      const setup = await registerSearchAttributes(rc.client.connection, namespace).catch((err: unknown) => {
        throw explain(err, namespace);
      });
      if (values.json) printJson(setup);
      else print(render(setup));
      return conclude(setup);
    });
  },
});

function render({ attributes }: NamespaceSetup): string {
  const what = {
    added: 'added',
    present: 'already registered',
    conflict: 'CONFLICT',
    missing: 'not added',
  } as const;
  return table(
    [
      ['SEARCH ATTRIBUTE', 'TYPE', 'STATE'],
      ...attributes.map((a) => [
        a.name,
        a.type,
        a.registeredAs ? `${what[a.state]}: registered as ${a.registeredAs}` : what[a.state],
      ]),
    ],
    3,
  );
}

/** The summary line (stderr) and the exit code. */
function conclude({ namespace, attributes }: NamespaceSetup): number {
  const conflicts = attributes.filter((a) => a.state === 'conflict');
  for (const c of conflicts) {
    say(
      `error: namespace "${namespace}": ${c.name} is registered as ${c.registeredAs}, but retention-cleanup needs ${c.type}.` +
        `\n  Remove it (temporal operator search-attribute remove --namespace ${namespace} --name ${c.name}) or use another namespace.`,
    );
  }
  if (conflicts.length) {
    say(`nothing was changed in namespace "${namespace}"`);
    return EXIT.USAGE;
  }
  const added = attributes.filter((a) => a.state === 'added').length;
  say(
    added
      ? `namespace "${namespace}": ${added} search attribute(s) added, ${attributes.length - added} already registered`
      : `namespace "${namespace}": all ${attributes.length} search attributes already registered; nothing changed`,
  );
  return EXIT.OK;
}

/** The operator service's raw gRPC errors, in terms of what to do. */
function explain(err: unknown, namespace: string): Error {
  const code = grpcCode(err);
  if (code === 5) {
    return new UsageError(
      `namespace "${namespace}" does not exist on this server: check --namespace / TEMPORAL_NAMESPACE, or create it ` +
        `(temporal operator namespace create --namespace ${namespace})`,
    );
  }
  if (code === 3) return new UsageError(`namespace "${namespace}": the server refused: ${errorMessage(err)}`);
  if (code === 7 || code === 12) {
    return new Error(
      `${errorMessage(err)}\nThis server does not let clients register search attributes (Temporal Cloud?): ` +
        'add them in the Cloud UI or with tcld (docs/operations.md, "Namespace setup").',
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
