// `etl`: the operator's command line. Finds the subcommand, parses its options with util.parseArgs, runs it
// and exits with the code that says how it went (see EXIT_HELP). It talks to the API (ETL_API_URL), to
// Temporal where it waits on a workflow (the services' own connection settings), and reads the sources file
// locally for `etl sources check`.
import { parseArgs } from 'node:util';
import { ApiClient } from './api.ts';
import {
  CliError,
  EXIT,
  processOutput,
  usageError,
  type Command,
  type Invocation,
  type OptionSpec,
  type Output,
} from './command.ts';
import { entityCommands } from './commands/entities.ts';
import { quarantineCommands } from './commands/quarantine.ts';
import { reprocessCommands } from './commands/reprocess.ts';
import { runCommands } from './commands/run.ts';
import { runsCommands } from './commands/runs.ts';
import { sourceCommands } from './commands/sources.ts';
import { statusCommands } from './commands/status.ts';
import { loadSettings, type Settings } from '../settings.ts';

const COMMANDS: Command[] = [
  ...statusCommands,
  ...sourceCommands,
  ...runCommands,
  ...runsCommands,
  ...quarantineCommands,
  ...entityCommands,
  ...reprocessCommands,
];

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'one JSON document on stdout (errors too, as {"error": ...}), for scripts' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

const EXIT_HELP = `Exit codes:
  0    ok (a run succeeded, or its sources were unchanged)
  1    the run or the thing checked failed, or only partly succeeded (partial; status degraded)
  2    usage error: unknown command or option, a bad argument, or a request the API refused as invalid (400)
  3    the API or Temporal is unreachable, or answers 503
  4    not found (404)
  5    refused (401/403: API_KEY missing or wrong; 409: a conflicting override)
  130  detached with Ctrl-C while waiting: the run goes on`;

const ENV_HELP = `Environment (a .env file in the project fills in what the environment leaves unset):
  ETL_API_URL       the API (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  API_KEY           sent as X-API-Key with writes (run, overrides, reprocess); never printed
  TEMPORAL_ADDRESS  Temporal, for waiting on a reprocess (TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* too)
  ETL_SOURCES_FILE  the sources file etl sources check reads by default`;

export async function main(argv: string[], out: Output = processOutput): Promise<number> {
  const { words, rest } = splitWords(argv);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  const json = rest.includes('--json');
  const command = findCommand(words);
  try {
    if (!command) {
      const group = words.length ? COMMANDS.filter((c) => c.words[0] === words[0]) : [];
      if (!words.length && wantsHelp) {
        out.line(rootHelp());
        return EXIT.ok;
      }
      if (group.length && words.length === 1 && wantsHelp) {
        out.line(groupHelp(words[0]!, group));
        return EXIT.ok;
      }
      const message = !words.length
        ? 'which command?'
        : group.length
          ? `unknown command: etl ${words.join(' ')}`
          : `unknown command: ${words[0]}`;
      out.note(`etl: ${message}\n`);
      out.note(group.length ? groupHelp(words[0]!, group) : rootHelp());
      if (json) out.json({ error: { exit_code: EXIT.usage, message } });
      return EXIT.usage;
    }
    const extra = words.slice(command.words.length);
    const options = { ...COMMON_OPTIONS, ...command.options };
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: [...extra, ...rest],
        options: Object.fromEntries(
          Object.entries(options).map(([name, o]) => [
            name,
            { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
          ]),
        ),
        allowPositionals: true,
        allowNegative: true,
        strict: true,
      });
    } catch (error) {
      throw usageError(
        `${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\n\n${commandHelp(command)}`,
      );
    }
    if (parsed.values.help) {
      out.line(commandHelp(command));
      return EXIT.ok;
    }
    const { min, max } = command.positionals ?? { min: 0, max: 0 };
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      const got =
        parsed.positionals.length > max
          ? `unexpected argument: ${parsed.positionals.slice(max).join(' ')}`
          : `missing ${command.args ?? 'arguments'}`;
      throw usageError(`${got}\n\n${commandHelp(command)}`);
    }
    const settings = readSettings();
    const invocation: Invocation = {
      values: parsed.values as Invocation['values'],
      positionals: parsed.positionals,
      json,
      settings,
      api: new ApiClient(process.env.ETL_API_URL ?? `http://127.0.0.1:${settings.PORT}`, settings.API_KEY),
      out,
    };
    return await command.run(invocation);
  } catch (error) {
    return reportError(error, json, out);
  }
}

/** The command words lead the arguments; --json and --help may come before them. */
function splitWords(argv: string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json' || arg === '--help' || arg === '-h') rest.push(arg);
    else if (
      arg.startsWith('-') ||
      words.length >= 2 ||
      (words.length === 1 && !COMMANDS.some((c) => c.words[0] === words[0] && c.words[1] === arg))
    )
      break;
    else words.push(arg);
  }
  return { words, rest: [...rest, ...argv.slice(i)] };
}

function findCommand(words: string[]): Command | undefined {
  return COMMANDS.filter((c) => c.words.every((w, i) => words[i] === w)).sort(
    (a, b) => b.words.length - a.words.length,
  )[0];
}

function readSettings(): Settings {
  try {
    return loadSettings();
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

function reportError(error: unknown, json: boolean, out: Output): number {
  const cli = error instanceof CliError ? error : new CliError(EXIT.failed, (error as Error)?.message ?? String(error));
  out.note(`etl: ${cli.message}`);
  for (const line of cli.details) out.note(`  ${line}`);
  if (json)
    out.json({
      error: {
        exit_code: cli.exitCode,
        message: cli.message.split('\n\n')[0],
        details: cli.details,
        ...(cli.problem ? { problem: cli.problem } : {}),
      },
    });
  return cli.exitCode;
}

const usageOf = (c: Command) => `etl ${c.words.join(' ')}${c.args ? ` ${c.args}` : ''}`;

function rootHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => usageOf(c).length));
  return [
    'etl: the temporal-etl command line. It talks to the API (ETL_API_URL) and, to wait on a reprocess, to Temporal.',
    '',
    'Usage: etl COMMAND [ARGS] [OPTIONS]        etl COMMAND --help shows its options',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${usageOf(c).padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json (one JSON document on stdout, for scripts) and --help.',
    '',
    EXIT_HELP,
    '',
    ENV_HELP,
  ].join('\n');
}

function groupHelp(group: string, commands: Command[]): string {
  const width = Math.max(...commands.map((c) => usageOf(c).length));
  return [
    `Usage: etl ${group} ...`,
    '',
    ...commands.map((c) => `  ${usageOf(c).padEnd(width)}  ${c.summary}`),
    '',
    'etl COMMAND --help shows its options; etl --help the exit codes.',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  const options = { ...c.options, ...COMMON_OPTIONS };
  const label = (name: string, o: OptionSpec) =>
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  const width = Math.max(...Object.entries(options).map(([n, o]) => label(n, o).length));
  return [
    `Usage: ${usageOf(c)} [OPTIONS]`,
    '',
    c.summary,
    ...(c.description ? ['', c.description] : []),
    '',
    'Options:',
    ...Object.entries(options).map(
      ([n, o]) => `  ${label(n, o).padEnd(width)}  ${o.description}${o.multiple ? ' (repeatable)' : ''}`,
    ),
    '',
    'Exit codes: etl --help.',
  ].join('\n');
}

// run as the program (bin/etl), not when a test imports it
// exit at once: a Temporal connection would otherwise keep the process alive; writes to pipes and terminals are synchronous here
if (import.meta.main) process.exit(await main(process.argv.slice(2)));
