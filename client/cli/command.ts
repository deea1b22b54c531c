/**
 * How a command is declared: its name, positional arguments, options (each with its help line),
 * description and handler, in one object. Parsing (node:util parseArgs), `--help`, the usage line and
 * the option list of the help all come from that declaration, so no command lists its options twice.
 *
 *   export const status = defineCommand({
 *     name: 'status',
 *     args: ['workflowId'],
 *     summary: 'progress of a running run, or the summary of a finished one',
 *     options: { ...CONNECTION_OPTIONS, json: { type: 'boolean', help: 'machine-readable output' } },
 *     run: async ({ args, values }) => ...exit code,
 *   });
 *
 * A group (`schedule`) dispatches to subcommands declared the same way (name "schedule create").
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../schedule-options';
import { EXIT, UsageError } from './errors';
import { print, say } from './io';

export const PROGRAM = 'retention-cleanup';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** May be given more than once; the handler gets an array. */
  readonly multiple?: boolean;
  /** Placeholder of the value in the help: `--interval DUR`. */
  readonly value?: string;
  /** What the option does; a "\n" continues it on the next line. */
  readonly help: string;
  /** Heading the help lists it under (default "options:"), e.g. the Temporal connection's. */
  readonly section?: string;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type Scalar<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : string;
/** Parsed options: absent ones are undefined. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O]?: O[K]['multiple'] extends true ? Scalar<O[K]>[] : Scalar<O[K]>;
};

export interface Invocation<O extends OptionSpecs, P extends readonly string[]> {
  values: OptionValues<O>;
  args: { [K in P[number]]: string };
  /** The command's help, for a UsageError that should show it. */
  help(): string;
}

export interface CommandSpec<O extends OptionSpecs, P extends readonly string[]> {
  /** As typed after `retention-cleanup`: "start", "schedule create". */
  name: string;
  /** Other names that run it. */
  aliases?: readonly string[];
  /** Required positional arguments, in order. */
  args?: P;
  /** One line for the list of commands. */
  summary: string;
  /** Prose under the usage line: what it does and prints, its exit codes. Not its options. */
  description?: string;
  options?: O;
  /** Returns the exit code; errors are thrown (errors.ts turns them into messages and codes). */
  run(invocation: Invocation<O, P>): Promise<number> | number;
}

export interface Command {
  readonly name: string;
  readonly aliases: readonly string[];
  /** The name with its arguments, e.g. "start <request-file>". */
  readonly synopsis: string;
  readonly summary: string;
  readonly subcommands?: readonly Command[];
  help(): string;
  run(argv: string[]): Promise<number>;
}

const HELP_OPTION = { type: 'boolean', short: 'h' } as const;
const OPTIONS_SECTION = 'options:';
/** Width of the option column of a help (and of the command column of the main help). */
export const FLAG_WIDTH = 26;

export function defineCommand<
  const O extends OptionSpecs = Record<never, OptionSpec>,
  const P extends readonly string[] = [],
>(spec: CommandSpec<O, P>): Command {
  const names = spec.args ?? ([] as unknown as P);
  const options: OptionSpecs = spec.options ?? {};
  const synopsis = [spec.name, ...names.map((a) => `<${a}>`)].join(' ');
  const help = () => commandHelp(synopsis, spec.description, options);
  return {
    name: spec.name,
    aliases: spec.aliases ?? [],
    synopsis,
    summary: spec.summary,
    help,
    async run(argv) {
      const { values, positionals } = parse(argv, options, help);
      if (values.help) return showHelp(help());
      const args = positionalArgs(names, positionals, help);
      return spec.run({ values: values as OptionValues<O>, args, help });
    },
  };
}

export interface GroupSpec {
  name: string;
  aliases?: readonly string[];
  summary: string;
  /** Shown above the list of subcommands. */
  description: string;
  /** Shown below it. */
  footer?: string;
  subcommands: readonly Command[];
}

/** A command whose first argument names a subcommand (`schedule create ...`). */
export function defineGroup(spec: GroupSpec): Command {
  const word = (c: Command) => c.name.slice(spec.name.length + 1);
  const help = () =>
    [
      `usage: ${PROGRAM} ${spec.name} <subcommand> [options]`,
      spec.description,
      `subcommands:\n${commandList(spec.subcommands.map((c) => [c.synopsis.slice(spec.name.length + 1), c.summary]))}`,
      [
        ...(spec.footer ? [spec.footer] : []),
        `Run "${PROGRAM} ${spec.name} <subcommand> --help" for details.`,
      ].join('\n'),
    ].join('\n\n');
  return {
    name: spec.name,
    aliases: spec.aliases ?? [],
    synopsis: `${spec.name} ${spec.subcommands.map(word).join('|')}`,
    summary: spec.summary,
    subcommands: spec.subcommands,
    help,
    async run(argv) {
      const [subcommand, ...rest] = argv;
      if (!subcommand || subcommand === '--help' || subcommand === '-h' || subcommand === 'help')
        return showHelp(help(), subcommand ? EXIT.OK : EXIT.USAGE);
      const sub = spec.subcommands.find((c) => word(c) === subcommand);
      if (!sub) throw new UsageError(`unknown ${spec.name} subcommand "${subcommand}"`, help());
      return sub.run(rest);
    },
  };
}

/** The command a word names (its name or an alias). */
export function findCommand(commands: readonly Command[], word: string): Command | undefined {
  return commands.find((c) => c.name === word || c.aliases.includes(word));
}

/** The help of `help <words...>`: a command's or a subcommand's, else undefined. */
export function helpTopic(commands: readonly Command[], words: string[]): string | undefined {
  const command = findCommand(commands, words[0] ?? '');
  const sub = command?.subcommands?.find((c) => c.name === `${command.name} ${words[1]}`);
  return (sub ?? command)?.help();
}

/** A duration option ("500ms", "5s", "10m", "2h") in milliseconds; a bad one is a usage error naming it. */
export function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch {
    throw new UsageError(`--${name}: expected a duration like "500ms", "5s", "10m" or "2h", got "${value}"`);
  }
}

/** Help on stdout when asked for (exit 0), on stderr when shown for a mistake. */
export function showHelp(text: string, code: number = EXIT.OK): number {
  (code === EXIT.OK ? print : say)(text);
  return code;
}

/** Rows of "name  what it does", the names in a column (as wide as the widest name, by default). */
export function commandList(rows: [string, string][], width?: number): string {
  const column = width ?? Math.min(Math.max(...rows.map(([name]) => name.length)) + 2, 40);
  return rows.map(([name, what]) => twoColumns(name, what, column)).join('\n');
}

function twoColumns(left: string, right: string, width: number): string {
  const [first, ...more] = right.split('\n');
  const indent = ' '.repeat(width + 2);
  const head = left.length < width ? `  ${left.padEnd(width)}${first}` : `  ${left}\n${indent}${first}`;
  return [head, ...more.map((line) => `${indent}${line}`)].join('\n');
}

function commandHelp(synopsis: string, description: string | undefined, options: OptionSpecs): string {
  const hasOptions = Object.keys(options).length > 0;
  const usage = `usage: ${PROGRAM} ${synopsis}${hasOptions ? ' [options]' : ''}`;
  return [usage, ...(description ? [description] : []), ...(hasOptions ? [optionsHelp(options)] : [])].join(
    '\n\n',
  );
}

/** The options under their headings: the command's own ("options:") first, then shared ones (connection). */
export function optionsHelp(options: OptionSpecs): string {
  const sections = new Map<string, string[]>();
  for (const [name, o] of Object.entries(options)) {
    const value = o.type === 'boolean' ? '' : ` ${o.value ?? 'VALUE'}`;
    const shown = `--${name}${o.short ? `, -${o.short}` : ''}${value}`;
    const section = o.section ?? OPTIONS_SECTION;
    sections.set(section, [...(sections.get(section) ?? []), twoColumns(shown, o.help, FLAG_WIDTH)]);
  }
  const own = (heading: string) => Number(heading === OPTIONS_SECTION);
  return [...sections.keys()]
    .sort((a, b) => own(b) - own(a))
    .map((heading) => `${heading}\n${sections.get(heading)!.join('\n')}`)
    .join('\n\n');
}

function parse(argv: string[], options: OptionSpecs, help: () => string) {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { ...config, help: HELP_OPTION } });
  } catch (err) {
    throw new UsageError((err as Error).message, help());
  }
}

function positionalArgs<P extends readonly string[]>(
  names: P,
  got: string[],
  help: () => string,
): { [K in P[number]]: string } {
  if (got.length < names.length) {
    const missing = names.slice(got.length).map((n) => `<${n}>`);
    throw new UsageError(`missing ${missing.join(' ')}`, help());
  }
  if (got.length > names.length) throw new UsageError(`unexpected argument "${got[names.length]}"`, help());
  return Object.fromEntries(names.map((n, i) => [n, got[i]!])) as { [K in P[number]]: string };
}
