import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleRun } from './example.js';

const o = { name: 'zoo', dir: '/ex/zoo', sizes: ['small', 'default'] as const };

describe("an example's command line", () => {
  it('should pick the default config and runs/<name> below the directory the command was typed in', () => {
    expect(exampleRun([], o, '/home/me')).toEqual({ config: path.join('/ex/zoo', 'zoo.config.ts'), runDir: path.join('/home/me', 'runs', 'zoo') });
  });

  it("should pick a size's config and run directory, drop pnpm's --, and pass --workers and --run-dir through", () => {
    expect(exampleRun(['--', '--size', 'small', '--workers', '2'], o, '/home/me')).toEqual({ config: path.join('/ex/zoo', 'zoo.small.config.ts'), runDir: path.join('/home/me', 'runs', 'zoo-small'), workers: '2' });
    expect(exampleRun(['--run-dir', 'out/x'], o, '/home/me').runDir).toBe(path.join('/home/me', 'out', 'x'));
  });

  it('should refuse a size the example lacks, naming the sizes it has', () => {
    expect(() => exampleRun(['--size', 'huge'], o, '/home/me')).toThrow('--size must be one of small, default, got "huge"');
  });
});
