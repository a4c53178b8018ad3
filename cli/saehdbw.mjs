#!/usr/bin/env node
// The `saehdbw` command: runs the TypeScript CLI (cli/main.ts) over the same src/core the page uses,
// through tsx's loader so no separate build step is needed.
import { register } from 'tsx/esm/api';

// `saehdbw inspect DIR | head` closes the pipe early: that is a normal end, not a crash.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
