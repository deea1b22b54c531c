/**
 * `retention-cleanup`: the command line, built on RetentionClient. Runs without a build:
 * `npx retention-cleanup ...` (bin/retention-cleanup.cjs registers tsx), `npm run cli -- ...`, or
 * `node --import tsx client/cli.ts ...`.
 *
 * This file only dispatches: each command is a file in client/cli/commands/ (listed in its index.ts),
 * declared with client/cli/command.ts; exit codes and error messages are in client/cli/errors.ts.
 * Temporal connection from Temporal's conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE) or --address / --namespace.
 */
import { commandList, findCommand, FLAG_WIDTH, helpTopic, PROGRAM, showHelp } from './cli/command';
import { COMMAND_SECTIONS, COMMANDS } from './cli/commands';
import { CONNECTION_HELP } from './cli/connect';
import { EXIT, EXIT_HELP, reportError, UsageError } from './cli/errors';
import { lazy, print } from './cli/io';

function mainHelp(): string {
  return [
    `usage: ${PROGRAM} <command> [options]      (every command takes --help)`,
    ...COMMAND_SECTIONS.map(
      ([heading, commands]) =>
        `\n${heading}:\n${commandList(
          commands.map((c) => [c.synopsis, c.summary]),
          FLAG_WIDTH,
        )}`,
    ),
    `\n${EXIT_HELP}`,
    `\n${CONNECTION_HELP}`,
  ].join('\n');
}

/** Runs the CLI with the given arguments (without "node" and the script) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [word, ...args] = argv;
  if (!word || word === '--help' || word === '-h' || word === 'help') {
    const topic = word === 'help' && args.length ? helpTopic(COMMANDS, args) : undefined;
    return showHelp(topic ?? mainHelp(), word ? EXIT.OK : EXIT.USAGE);
  }
  if (word === '--version' || word === '-v') {
    print(lazy<{ version: string }>('package.json').version);
    return EXIT.OK;
  }
  try {
    const command = findCommand(COMMANDS, word);
    if (!command) throw new UsageError(`unknown command "${word}"`, mainHelp());
    return await command.run(args);
  } catch (err) {
    return reportError(err);
  }
}

/** Entry for bin/retention-cleanup.cjs and `node --import tsx client/cli.ts`. */
export function main(argv = process.argv.slice(2)): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); // e.g. `| head`
  });
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
      // Anything still holding the event loop (a gRPC channel closing) must not hold the exit.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}

if (require.main === module) main();
