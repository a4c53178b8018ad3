#!/usr/bin/env node
// `npm run bench [-- --json FILE] [--only NAME]`: runs bench/main.ts (TypeScript) through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
