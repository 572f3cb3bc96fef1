// What every subcommand is made of: its name, its help, its options (node's util.parseArgs), and a run that
// returns the exit code. Errors carry the exit code that says what went wrong, so a script can tell a
// failed run from a typo, an unreachable API or a missing id without parsing the message.
import type { ApiClient } from './api.ts';
import type { Settings } from '../settings.ts';

/** The exit codes, as `etl --help` documents them. */
export const EXIT = {
  ok: 0,
  /** the run (or the thing checked) failed, or only partly succeeded */
  failed: 1,
  /** the command line (or a request the API refused as invalid) is wrong */
  usage: 2,
  /** the API or Temporal cannot be reached, or answers 503 */
  unreachable: 3,
  notFound: 4,
  /** the API refused: 401/403 (API key) or 409 (a conflicting decision) */
  refused: 5,
  /** Ctrl-C while waiting on a run: the run goes on (128 + SIGINT, as shells report it) */
  detached: 130,
} as const;

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  /** More lines for a person (each invalid parameter); the JSON error document carries them too. */
  readonly details: string[];
  /** The API's problem document, when the error is one. */
  readonly problem: Record<string, unknown> | undefined;
  constructor(exitCode: number, message: string, details: string[] = [], problem?: Record<string, unknown>) {
    super(message);
    this.exitCode = exitCode;
    this.details = details;
    this.problem = problem;
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** What it takes, for the help: `ID`, `N`. */
  value?: string;
  description: string;
}

export interface Invocation {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  /** --json: one JSON document on stdout, nothing else there. */
  json: boolean;
  settings: Settings;
  api: ApiClient;
  out: Output;
}

export interface Command {
  /** The words that name it: ['sources', 'check']. */
  words: string[];
  /** The arguments after the words, for the usage line: `[FILE]`. */
  args?: string;
  summary: string;
  /** More lines of help, after the usage. */
  description?: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments it takes, at least and at most. */
  positionals?: { min: number; max: number };
  run(invocation: Invocation): Promise<number>;
}

/** stdout for results, stderr for errors and notes; the only place the CLI writes. */
export interface Output {
  line(text?: string): void;
  json(document: unknown): void;
  note(text: string): void;
  readonly isTerminal: boolean;
  readonly columns: number;
}

export const processOutput: Output = {
  line: (text = '') => void process.stdout.write(`${text}\n`),
  json: (document) => void process.stdout.write(`${JSON.stringify(document, null, 2)}\n`),
  note: (text) => void process.stderr.write(`${text}\n`),
  get isTerminal() {
    return Boolean(process.stdout.isTTY);
  },
  get columns() {
    return process.stdout.columns || 120;
  },
};

/** A string option, or undefined. */
export const text = (inv: Invocation, name: string): string | undefined => {
  const v = inv.values[name];
  return typeof v === 'string' ? v : undefined;
};
export const flag = (inv: Invocation, name: string): boolean => inv.values[name] === true;
export const list = (inv: Invocation, name: string): string[] => {
  const v = inv.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
};

/** A positive integer argument (an id, a limit), or a usage error naming it. */
export function positiveInt(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw usageError(`${what} must be a positive integer, not '${value}'`);
  return Number(value);
}
