import { run } from './experiment.js';
const args = JSON.parse(process.argv[2]!);
const r = await run(args); if (r.buckets) console.log(r.buckets);
console.log(JSON.stringify({ kl: +r.kl.toFixed(4), start: +r.start.toFixed(4), s: +r.seconds.toFixed(1), ...args }));
