// CLI entry: dispatches to cli/commands/*. Exit codes: 0 ok, 1 failure, 2 usage.
import { createRequire } from 'node:module';
import { UsageError, parseCommandArgs, type Io } from './command.js';
import { commands } from './commands/index.js';

function version(): string {
  try {
    // package.json sits two levels up from both cli/ (tests) and dist/cli/ (build) -- try both.
    const require = createRequire(import.meta.url);
    for (const p of ['../package.json', '../../package.json']) {
      try {
        const pkg = require(p) as { name?: string; version?: string };
        if (pkg.name === 'instanas') return pkg.version ?? 'unknown';
      } catch {
        /* try the next location */
      }
    }
  } catch {
    /* fall through */
  }
  return 'unknown';
}

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: instanas <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    ...commands.map((c) => `  instanas ${c.usage}`),
    '',
    'instanas --help | --version',
  ].join('\n');
}

const stdio: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
};

/** Runs the CLI with argv (without node and script); returns the exit code. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(version());
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(name === undefined ? usage() : `instanas: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: instanas ${cmd.usage}`);
    return 0;
  }
  try {
    return await cmd.run(parseCommandArgs(cmd, rest), io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`instanas: ${err.message}\nusage: instanas ${(err.command ?? cmd).usage}`);
      return 2;
    }
    // One line, no stack: messages from the runtime already name the file or field.
    const msg = err instanceof Error ? err.message : String(err);
    io.err(`instanas: error: ${msg.split('\n')[0]}`);
    return 1;
  }
}
