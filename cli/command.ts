// Shared CLI plumbing: each subcommand is one module under cli/commands/.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where commands write; injectable so tests need not spawn a process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after "instanas ", e.g. "classify <image> --model <dir> [--json]". */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Returns the exit code. Throw UsageError for bad arguments, Error for failures. */
  run(args: { positionals: string[]; values: Record<string, unknown> }, io: Io): Promise<number>;
}

/** Bad invocation: usage is printed and the exit code is 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseCommandArgs(cmd: Command, argv: string[]): { positionals: string[]; values: Record<string, unknown> } {
  try {
    const { positionals, values } = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true });
    return { positionals, values: values as Record<string, unknown> };
  } catch (err) {
    // node's parseArgs appends a long hint about '--'; the first sentence is enough.
    throw new UsageError((err as Error).message.split('\n')[0].split('. To specify')[0], cmd);
  }
}

/** A flag's number: NaN for an empty or blank value (Number('') is 0, which would pass for "0"). */
export const flagNumber = (value: unknown): number => (typeof value === 'string' && value.trim() === '' ? NaN : Number(value));

/** Parses a positive integer flag value or throws UsageError naming the flag. */
export function positiveInt(value: unknown, flag: string, cmd: Command): number | undefined {
  if (value === undefined) return undefined;
  const n = flagNumber(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${String(value)}'`, cmd);
  return n;
}
