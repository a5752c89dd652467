#!/usr/bin/env bash
# Installs @regime-zoo/core as an npm user would: `pnpm pack` the built package, `npm install` the tarball
# into a scratch project outside the workspace, provision the native backend with `npx regime-zoo-native`
# (tfjs-node's own download fails on machines without internet; npm then drops the optional dependency),
# and train two steps on the native backend. Needs `pnpm build` first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/regime-zoo-packed.XXXXXX)"
trap 'rm -rf "$work"' EXIT
(cd "$root/packages/core" && npx -y pnpm@12.4.2 pack --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/regime-zoo-core-*.tgz)"
mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null && npm pkg set type=module >/dev/null
npm install --no-audit --no-fund "$tarball"
npx regime-zoo-native
cat > train.mjs <<'JS'
import { ensureBackend, tf, tokenLogProbs, Trainer, Transformer } from '@regime-zoo/core';
const backend = ensureBackend();
const model = Transformer.create({ vocabSize: 16, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2 });
const trainer = new Trainer(model, { totalSteps: 2 });
const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], undefined, 'int32');
for (let s = 0; s < 2; s++) {
  const info = trainer.trainStep(() => ({ loss: tf.neg(tf.mean(tokenLogProbs(model.forward(ids).logits, ids))) }));
  console.log(`step ${info.step} loss ${info.loss.toFixed(4)}`);
}
console.log(`backend ${backend.name}: ${backend.reason}`);
if (backend.name !== 'tensorflow') process.exit(1);
JS
node train.mjs
echo "packed install OK"
