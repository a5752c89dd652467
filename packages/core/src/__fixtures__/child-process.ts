import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Core's source, transpiled (TypeScript's `transpileModule`) into a temporary folder inside the package so
 * that its imports resolve, for tests that need core in a child process of their own (two processes at
 * once, or a fresh process for start-up behaviour). `dispose()` deletes the folder.
 */
export async function transpiledCore(): Promise<{ dir: string; run: (script: string, env?: NodeJS.ProcessEnv) => Promise<{ code: number; stdout: string; stderr: string }>; dispose: () => void }> {
  const ts = await import('typescript');
  const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = fs.mkdtempSync(path.join(src, '..', '.child-'));
  for (const f of fs.readdirSync(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const js = ts.transpileModule(fs.readFileSync(path.join(src, f), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    fs.writeFileSync(path.join(dir, f.replace(/\.ts$/, '.js')), js);
  }
  let n = 0;
  return {
    dir,
    run(script, env = process.env) {
      const file = path.join(dir, `script-${++n}.js`);
      fs.writeFileSync(file, script);
      return new Promise((resolve, reject) => {
        const p = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('error', reject);
        p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    },
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
