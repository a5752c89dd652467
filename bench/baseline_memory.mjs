// The resident memory of a process that has loaded tfjs-node and core and run one op, before any model,
// and the largest mappings in it (/proc/self/smaps, Linux). Python's side:
//   python3 -c "import torch; (torch.ones(2) + 1); print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0], 'kB')"
// docs/performance.md, "Where the time goes now".
import fs from 'node:fs';
import { ensureBackend, tf } from '../packages/core/dist/index.js';

ensureBackend();
tf.add(tf.ones([2]), 1).dataSync();
const mib = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
const byFile = new Map();
let file = '';
for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
  const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
  if (head) file = head[1].split('/').pop() || '[anonymous]';
  const field = /^(Rss|Private_Clean):\s+(\d+) kB/.exec(line);
  if (!field) continue;
  const entry = byFile.get(file) ?? { Rss: 0, Private_Clean: 0 };
  entry[field[1]] += Number(field[2]);
  byFile.set(file, entry);
}
console.log(`VmRSS ${mib(process.memoryUsage.rss() / 1024)}`);
for (const [name, e] of [...byFile].sort((a, b) => b[1].Rss - a[1].Rss).slice(0, 5)) {
  console.log(`  ${name}: ${mib(e.Rss)} resident, of which ${mib(e.Private_Clean)} clean (file-backed, droppable)`);
}
