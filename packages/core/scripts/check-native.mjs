#!/usr/bin/env node
// Exits 1 unless @tensorflow/tfjs-node loads with the native `tensorflow` backend (used by .ci/run).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
try {
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  const tf = require(dir);
  const status = path.join(dir, 'regime-zoo-native.json');
  const how = fs.existsSync(status) ? JSON.parse(fs.readFileSync(status, 'utf8')).source : 'prebuilt';
  if (tf.getBackend() !== 'tensorflow') throw new Error(`backend is ${tf.getBackend()}`);
  console.log(`native backend: tensorflow (${how}), libtensorflow ${tf.backend().binding.TF_Version}`);
} catch (e) {
  console.error(`native backend NOT available: ${e.message}`);
  process.exit(1);
}
