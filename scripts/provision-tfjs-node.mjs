// Workspace postinstall: provisions tfjs-node's native binding (see packages/core/scripts/provision-native.mjs).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const script = fileURLToPath(new URL('../packages/core/scripts/provision-native.mjs', import.meta.url));
const r = spawnSync(process.execPath, [script], { stdio: 'inherit', cwd: fileURLToPath(new URL('../packages/core', import.meta.url)) });
process.exit(r.status ?? 0);
