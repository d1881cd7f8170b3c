#!/usr/bin/env node
// Thin shim: the CLI is compiled from cli/instanas.ts to dist/ by `npm run build`.
let cli;
try {
  cli = await import('../dist/cli/instanas.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('instanas.js')) {
    process.stderr.write('instanas: error: dist/ is missing; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
process.exitCode = await cli.main(process.argv.slice(2));
