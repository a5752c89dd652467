// Test helper: a second installation of `zoo` (the cli and experiment packages, from source) whose
// node_modules lacks one package, as on a worker machine where that package was never installed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = fileURLToPath(new URL('../../../', import.meta.url));

/** Links every entry of `from`'s node_modules into `to`'s, except `without`; `replace` maps a name to another target. */
function linkModules(from: string, to: string, without: string, replace: Record<string, string> = {}): void {
  const src = path.join(from, 'node_modules');
  for (const entry of fs.readdirSync(src)) {
    if (entry === '.bin' || entry.startsWith('.')) continue;
    const names = entry.startsWith('@') ? fs.readdirSync(path.join(src, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) {
      if (name === without) continue;
      const link = path.join(to, 'node_modules', name);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(replace[name] ?? fs.realpathSync(path.join(src, name)), link);
    }
  }
}

/**
 * Copies packages/cli and packages/experiment (package.json and src) into `dir`, linking their
 * dependencies except `without`; returns the path of the copy's `cli.ts` (for `spawnZoo`).
 */
export function installationWithout(dir: string, without: string): string {
  const copy = (pkg: string) => {
    const to = path.join(dir, 'packages', pkg);
    fs.mkdirSync(to, { recursive: true });
    fs.copyFileSync(path.join(PACKAGES, pkg, 'package.json'), path.join(to, 'package.json'));
    fs.cpSync(path.join(PACKAGES, pkg, 'src'), path.join(to, 'src'), { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
    return to;
  };
  const experiment = copy('experiment');
  linkModules(path.join(PACKAGES, 'experiment'), experiment, without);
  const cli = copy('cli');
  linkModules(path.join(PACKAGES, 'cli'), cli, without, { '@regime-zoo/experiment': experiment });
  return path.join(cli, 'src', 'cli.ts');
}
