import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@regime-zoo/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEpisodes, readEpisodes, toExample, writeEpisodes, type EpisodeRecord } from './dataset.js';
import { readJsonl, writeJsonl } from './jsonl.js';
import { rejected, thrown } from './test-helpers.js';
import { absentSupervisorWorld } from './worlds/absent-supervisor.js';
import { z } from 'zod';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'regime-zoo-worlds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const world = absentSupervisorWorld();
const episodes = generateEpisodes(world, { episodes: 20, seed: 1 });

describe('episode datasets', () => {
  it('should write and read back every field of every episode', async () => {
    const path = join(dir, 'round-trip.jsonl');
    expect(await writeEpisodes(path, episodes)).toBe(20);
    expect(await readEpisodes(path)).toEqual(episodes);
    const first = JSON.parse((await readFile(path, 'utf8')).split('\n')[0]!) as EpisodeRecord;
    expect(Object.keys(first).sort()).toEqual(['actionMask', 'hidden', 'legal', 'policy', 'return', 'rewards', 'split', 'tokens', 'unsafe', 'world']);
  });

  it('should fail on a malformed line with the file and the line number', async () => {
    const path = join(dir, 'broken.jsonl');
    const good = JSON.stringify(episodes[0]);
    await writeFile(path, `${good}\n${good.slice(0, 40)}\n${good}\n`);
    const notJson = await rejected(readEpisodes(path));
    expect(notJson.code).toBe('BAD_JSON');
    expect(notJson.message).toContain(`${path}:2`);
    expect(notJson.position).toEqual([2]);
    expect(notJson.field).toBe(path);

    const wrong = { ...episodes[0]!, return: episodes[0]!.return + 1 };
    await writeFile(path, `${good}\n\n${good}\n${JSON.stringify(wrong)}\n`);
    const mismatch = await rejected(readEpisodes(path));
    expect(mismatch.message).toContain(`${path}:4`);
    expect(mismatch.message).toMatch(/return.*rewards sum to/);

    const illegal = { ...episodes[0]!, legal: episodes[0]!.legal!.map((l, k) => (k === 0 ? l.filter((id) => id !== episodes[0]!.tokens[episodes[0]!.actionMask.indexOf(true)]) : l)) };
    await writeFile(path, `${JSON.stringify(illegal)}\n`);
    expect((await rejected(readEpisodes(path))).message).toMatch(new RegExp(`${path}:1: .*legal.0.*does not hold the action`));

    await writeFile(path, `${JSON.stringify({ ...episodes[0]!, split: 'train' })}\n`);
    expect((await rejected(readEpisodes(path))).message).toMatch(new RegExp(`${path}:1: .*split`));
  });

  it('should refuse token ids outside a given vocabulary at read time, naming file and line', async () => {
    const path = join(dir, 'vocab.jsonl');
    await writeEpisodes(path, episodes.slice(0, 3));
    const max = Math.max(...episodes.slice(0, 3).flatMap((e) => e.tokens));
    expect(await readEpisodes(path, { vocabulary: { size: max + 1 } })).toHaveLength(3);
    const bad = { ...episodes[1]!, tokens: episodes[1]!.tokens.map((t, i) => (i === 2 ? max + 5 : t)) };
    await writeEpisodes(path, [episodes[0]!, bad]);
    const e = await rejected(readEpisodes(path, { vocabulary: { size: max + 1 } }));
    expect([e.code, e.field, e.position]).toEqual(['TOKEN_OUT_OF_RANGE', path, [2]]);
    expect(e.message).toBe(`${path}:2: line 2: tokens[2] is token id ${max + 5}, outside the vocabulary [0, ${max}] (a dataset written with another vocabulary?)`);
  });

  it('should refuse an empty file instead of returning an empty dataset', async () => {
    const path = join(dir, 'empty.jsonl');
    await writeFile(path, '');
    const e = await rejected(readEpisodes(path));
    expect([e.code, e.field]).toEqual(['EMPTY_DATASET', path]);
    expect(e.message).toBe(`${path} holds no rows (the file is empty); a dataset needs at least one JSON line`);
    await writeFile(path, '\n\n  \n');
    expect((await rejected(readEpisodes(path))).message).toContain('(only blank lines)');
    expect(await readJsonl(path, z.object({}), { allowEmpty: true })).toEqual([]);
  });

  it('should skip a UTF-8 byte-order mark', async () => {
    const path = join(dir, 'bom.jsonl');
    await writeFile(path, `\uFEFF${JSON.stringify(episodes[0])}\n${JSON.stringify(episodes[1])}\n`);
    expect(await readEpisodes(path)).toEqual(episodes.slice(0, 2));
  });

  it('should leave no file at the target when a write fails midway, and keep an old file intact', async () => {
    const path = join(dir, 'atomic.jsonl');
    async function* failing() {
      for (let i = 0; i < 5; i++) {
        if (i === 3) throw new Error('disk on fire');
        yield episodes[i]!;
      }
    }
    await expect(writeEpisodes(path, failing())).rejects.toThrow('disk on fire');
    expect((await readdir(dir)).filter((f) => f.includes('atomic'))).toEqual([]);

    await writeEpisodes(path, episodes.slice(0, 2));
    const before = await readFile(path, 'utf8');
    const bad = [episodes[0]!, { ...episodes[1]!, tokens: [1, 2, 3], actionMask: [true] } as EpisodeRecord];
    const e = await rejected(writeEpisodes(path, bad));
    expect(e.message).toMatch(/row 2 is invalid/);
    expect(await readFile(path, 'utf8')).toBe(before);
    expect((await readdir(dir)).filter((f) => f.includes('atomic'))).toEqual(['atomic.jsonl']);
  });

  it('should write rows larger than one buffered chunk', async () => {
    const path = join(dir, 'big.jsonl');
    const rows = Array.from({ length: 3000 }, (_, i) => ({ i, pad: 'x'.repeat(50) }));
    expect(await writeJsonl(path, rows)).toBe(3000);
    expect(await readJsonl(path, z.object({ i: z.number(), pad: z.string() }))).toEqual(rows);
  });

  it('should make core Examples with the actions as targets and the rest as meta', () => {
    const ex = toExample(episodes[0]!);
    expect(ex.tokens).toEqual(episodes[0]!.tokens);
    expect(ex.targetMask).toEqual(episodes[0]!.actionMask);
    expect(ex.return).toBe(episodes[0]!.return);
    // One list of legal ids per action, each holding the action taken (what the world allowed there).
    const actions = ex.tokens.filter((_, t) => ex.targetMask![t]);
    expect(ex.legal).toHaveLength(actions.length);
    actions.forEach((a, k) => expect(ex.legal![k]).toContain(a));
    expect(ex.legal![0]).toEqual([...world.environment('id').legalActions(world.environment('id').reset(new Rng(0)).state)]);
    expect(toExample({ ...episodes[0]!, legal: undefined })).not.toHaveProperty('legal'); // older files
    expect(ex.meta).toEqual({ world: 'absent-supervisor', split: 'id', policy: episodes[0]!.policy, hidden: episodes[0]!.hidden, unsafe: episodes[0]!.unsafe });
  });

  it('should validate generateEpisodes options', () => {
    expect(thrown(() => generateEpisodes(world, { episodes: 0 })).field).toBe('episodes');
    expect(thrown(() => generateEpisodes(world, { episodes: 1, split: 'train' as never })).code).toBe('OPTION_INVALID');
    expect(thrown(() => generateEpisodes(world, { episodes: 1, mix: [{ policy: 'nope', weight: 1 }] })).message).toMatch(/unknown policy 'nope'/);
  });
});
