import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZooError } from '@regime-zoo/core';
import { createJiti } from 'jiti';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { experimentSchema, type ExperimentConfig } from './config.js';

/** `arms[1].regime.options.beta` from `['arms', 1, 'regime', 'options', 'beta']`. */
export function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out || '(root)';
}

/** Where a field sits in the file it came from, when it came from JSON or YAML. */
export type Locate = (p: readonly PropertyKey[]) => { line: number; col: number } | undefined;

export interface LoadedConfig {
  /** The config as written (before defaults). */
  raw: unknown;
  file: string;
  locate: Locate;
}

const TS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** Reads a config file (TypeScript/JavaScript module, JSON or YAML) without validating it. */
export async function readConfigFile(file: string): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  const ext = path.extname(abs).toLowerCase();
  if (!fs.existsSync(abs)) throw new ZooError('CONFIG_INVALID', `config file ${abs} does not exist; pass the path of an experiment config (.ts, .json or .yaml)`, { field: abs });
  if (TS.includes(ext)) {
    // Run from source (this repository's tests and tsx), `@regime-zoo/experiment` in a config resolves to
    // its unbuilt dist; point it at the source of `defineExperiment` instead (jiti has no export conditions).
    const fromSource = import.meta.url.endsWith('.ts');
    const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false, ...(fromSource ? { alias: { '@regime-zoo/experiment': fileURLToPath(new URL('./config.ts', import.meta.url)) } } : {}) });
    let mod: unknown;
    try {
      mod = await jiti.import(abs, { default: true });
    } catch (e) {
      throw new ZooError('CONFIG_INVALID', `${abs}: the config module failed to load: ${(e as Error).message}`, { field: abs, cause: e });
    }
    if (mod === undefined || mod === null || typeof mod !== 'object') {
      throw new ZooError('CONFIG_INVALID', `${abs}: the module has no default export; write \`export default defineExperiment({ ... })\``, { field: abs });
    }
    return { raw: mod, file: abs, locate: () => undefined };
  }
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    throw new ZooError('CONFIG_INVALID', `${abs}: unknown config format "${ext}"; use .ts, .js, .json, .yaml or .yml`, { field: abs });
  }
  const text = fs.readFileSync(abs, 'utf8');
  const lineCounter = new LineCounter();
  // JSON is YAML 1.2, so one parser gives line positions for both.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    throw new ZooError('CONFIG_INVALID', `${abs}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { field: abs, cause: err });
  }
  return { raw: doc.toJS(), file: abs, locate: locator(doc, lineCounter) };
}

function locator(doc: Document, lc: LineCounter): Locate {
  return (p) => {
    // The deepest node on the path that exists: an unknown or missing key points at its parent.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        let offset = node.range[0];
        // A key's line is more useful than its value's for maps: find the pair's key when we can.
        const parent = n > 0 ? (doc.getIn(p.slice(0, n - 1) as unknown[], true) as unknown) : undefined;
        if (parent && isMap(parent)) {
          const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === p[n - 1]);
          const keyRange = (pair?.key as { range?: [number, number, number] } | null)?.range;
          if (keyRange) offset = keyRange[0];
        } // a sequence item's own range is right as it is
        const pos = lc.linePos(offset);
        return { line: pos.line, col: pos.col };
      }
    }
    return undefined;
  };
}

/** `file:line:col` (or `file`) for an error at `p`. */
export function where(loaded: Pick<LoadedConfig, 'file' | 'locate'>, p: readonly PropertyKey[]): string {
  const pos = loaded.locate(p);
  return pos ? `${loaded.file}:${pos.line}:${pos.col}` : loaded.file;
}

/** Turns a dotted field (`arms[1].regime.options.beta`) back into a path. */
export function parsePath(field: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them or check the spelling`;
  return issue.message;
}

/** Validates a raw config against the schema; the error names the field path, and the file and line. */
export function validateConfig(loaded: LoadedConfig): ExperimentConfig {
  const r = experimentSchema.safeParse(loaded.raw);
  if (r.success) return r.data;
  // A misspelt key also leaves a required one missing: the unknown key is the more useful message.
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
  const p = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const field = formatPath(p);
  throw new ZooError('CONFIG_INVALID', `${where(loaded, p)}: ${field}: ${describeIssue(issue)}`, { field, cause: r.error });
}

/** Re-throws an error about a config field with the file and line in front. */
export function atField(loaded: Pick<LoadedConfig, 'file' | 'locate'>, e: ZooError): ZooError {
  const field = e.field ?? '(root)';
  return new ZooError(e.code, `${where(loaded, parsePath(field))}: ${e.message}`, { field, cause: e, ...(e.plugin ? { plugin: e.plugin } : {}) });
}
