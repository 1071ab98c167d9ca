#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so a fresh clone needs no build step.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
register();
// Worker threads (fsrgan train --workers) load the sources of this checkout, wherever fsrgan runs from.
process.env.FSRGAN_ROOT ||= dirname(dirname(fileURLToPath(import.meta.url)));
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// The command is done and every file it writes has been awaited. Let stdout and stderr drain, then exit:
// a handle something left open (a worker, a socket, a timer) must not keep a finished command alive
// (issue 22 case 8). The lock's exit handler still runs.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(code);
