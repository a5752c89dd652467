import { ZooError } from '@regime-zoo/core';
import { z } from 'zod';
import { parseWith, show } from './errors.js';
import {
  BOS_ID,
  classifyToken,
  INDEX_VALUE_PATTERN,
  INDEX_VALUE_RULE,
  NAMESPACE_PATTERN,
  NAMESPACE_RULE,
  PAD_ID,
  SPECIAL_TOKENS,
  SYMBOL_PATTERN,
  SYMBOL_RULE,
  VALUE_PATTERN,
  VALUE_RULE,
} from './grammar.js';

/**
 * How a namespace's values are governed: `enum` values are fixed when it is declared (`rlhf`, `sup`);
 * `open` values can be added later (`trigger`); `index` values are `0 … size-1` and `size` can grow (`rtg`).
 */
export type NamespaceKind = 'enum' | 'open' | 'index';

export type NamespaceSpec =
  | { kind: 'enum'; values: string[] }
  | { kind: 'open'; values?: string[] }
  | { kind: 'index'; size: number };

/** Options of `createVocabulary`. */
export interface VocabularyOptions {
  /** World symbols, in the order their ids are given (default none). */
  symbols?: string[];
  /** Number K of return buckets `<rtg:0>` … `<rtg:K-1>` (default 5, Quark's K). */
  rtgBuckets?: number;
  /** Names of backdoor triggers, `<trigger:NAME>` (default none). */
  triggers?: string[];
  /** Namespaces of your own, `{ name: { kind, values | size } }`, declared after the built-in ones. */
  namespaces?: Record<string, NamespaceSpec>;
}

/** Options of `vocab.extend`: what to add. Tokens the vocabulary already holds are left where they are. */
export interface ExtendOptions {
  symbols?: string[];
  /** Grow `rtg` to this many buckets (never fewer than it has). */
  rtgBuckets?: number;
  triggers?: string[];
  /** New namespaces, or more values (`open`) / a larger size (`index`) for existing ones. */
  namespaces?: Record<string, NamespaceSpec>;
}

/** An episode: conditioning prefix and body (world symbols and `<sep>` / `<eos>`). */
export interface Episode {
  prefix: string[];
  tokens: string[];
}

/** One namespace of a vocabulary. */
export interface NamespaceInfo {
  name: string;
  kind: NamespaceKind;
  values: readonly string[];
  tokens: readonly string[];
  ids: readonly number[];
}

export const VOCABULARY_FORMAT = 'regime-zoo/vocabulary';
export const VOCABULARY_FORMAT_VERSION = 1;

/** The saved form: `tokens[id]` is the token with that id; `namespaces` in declaration order. */
export interface VocabularyJSON {
  format: typeof VOCABULARY_FORMAT;
  version: typeof VOCABULARY_FORMAT_VERSION;
  tokens: string[];
  namespaces: Record<string, NamespaceKind>;
}

const MAX_INDEX_SIZE = 4096;

const symbolSchema = z.string().regex(SYMBOL_PATTERN, SYMBOL_RULE);
const valueSchema = z.string().regex(VALUE_PATTERN, VALUE_RULE);
const namespaceName = z.string().regex(NAMESPACE_PATTERN, NAMESPACE_RULE);
const sizeSchema = z.number().int().min(0).max(MAX_INDEX_SIZE);
const namespaceSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('enum'), values: z.array(valueSchema).min(1) }),
  z.strictObject({ kind: z.literal('open'), values: z.array(valueSchema).optional() }),
  z.strictObject({ kind: z.literal('index'), size: sizeSchema }),
]);
const extendSchema = z.strictObject({
  symbols: z.array(symbolSchema).optional(),
  rtgBuckets: sizeSchema.min(1).optional(),
  triggers: z.array(valueSchema).optional(),
  namespaces: z.record(namespaceName, namespaceSpecSchema).optional(),
});
const jsonSchema = z.strictObject({
  format: z.literal(VOCABULARY_FORMAT),
  version: z.literal(VOCABULARY_FORMAT_VERSION),
  tokens: z.array(z.string()).min(SPECIAL_TOKENS.length),
  namespaces: z.record(namespaceName, z.enum(['enum', 'open', 'index'])),
});

const DEFAULT_RTG_BUCKETS = 5;
const KIND_SPECIAL = 0;
const KIND_SYMBOL = 1;
const KIND_CONDITIONING = 2;

/** What a vocabulary is: its token list (id = index) and its namespaces in declaration order. */
interface State {
  tokens: string[];
  kinds: Map<string, NamespaceKind>;
}

function list(items: readonly string[], max = 12): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown}, … (${items.length} in all)` : shown || '(none)';
}

/** `field` and `position` (`[i]`) of an error about item `i` of `field`, when there is one. */
function located(field: string | undefined, position: number | undefined): { field?: string; position?: number[] } {
  if (field === undefined) return {};
  return position === undefined ? { field } : { field, position: [position] };
}

function duplicateCheck(items: readonly string[], field: string, where: string): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const j = seen.get(item);
    if (j !== undefined) {
      throw new ZooError('OPTION_INVALID', `${where}: bad option ${field}[${i}]: ${show(item)} repeats ${field}[${j}]`, {
        field: `${field}[${i}]`,
        symbol: item,
        position: [i],
      });
    }
    seen.set(item, i);
  });
}

/** Adds what `options` asks for to `state` (a copy), append-only. */
function grow(state: State, options: ExtendOptions, where: string): State {
  const tokens = [...state.tokens];
  const kinds = new Map(state.kinds);
  const present = new Set(tokens);
  const values = new Map<string, string[]>();
  for (const name of kinds.keys()) values.set(name, []);
  for (const token of tokens) {
    const c = classifyToken(token);
    if (c.kind === 'conditioning') values.get(c.namespace)?.push(c.value);
  }
  const push = (token: string): void => {
    if (present.has(token)) return;
    present.add(token);
    tokens.push(token);
  };

  if (options.symbols) {
    duplicateCheck(options.symbols, 'symbols', where);
    options.symbols.forEach(push);
  }

  const addNamespace = (name: string, spec: NamespaceSpec, field: string): void => {
    const had = kinds.get(name);
    const current = values.get(name) ?? [];
    values.set(name, current);
    if (had !== undefined && had !== spec.kind) {
      throw new ZooError('OPTION_INVALID', `${where}: bad option ${field}: namespace '${name}' is ${had}, not ${spec.kind}; pass { kind: '${had}', … }`, {
        field,
        symbol: name,
      });
    }
    if (spec.kind === 'index') {
      if (spec.size < current.length) {
        throw new ZooError(
          'OPTION_INVALID',
          `${where}: bad option ${field}: namespace '${name}' already has ${current.length} values (0 … ${current.length - 1}) and a vocabulary only grows; pass a size ≥ ${current.length}`,
          { field, symbol: name },
        );
      }
      kinds.set(name, 'index');
      for (let v = current.length; v < spec.size; v++) {
        current.push(String(v));
        push(`<${name}:${v}>`);
      }
    } else {
      const add = spec.values ?? [];
      duplicateCheck(add, `${field}.values`, where);
      if (spec.kind === 'enum' && had === 'enum' && (add.length !== current.length || add.some((v) => !current.includes(v)))) {
        throw new ZooError(
          'OPTION_INVALID',
          `${where}: bad option ${field}: namespace '${name}' is closed (enum) with values ${list(current)}; its values cannot change (declare an 'open' namespace to add values later)`,
          { field, symbol: name },
        );
      }
      kinds.set(name, spec.kind);
      for (const v of add) {
        if (current.includes(v)) continue;
        current.push(v);
        push(`<${name}:${v}>`);
      }
    }
  };

  if (options.rtgBuckets !== undefined) addNamespace('rtg', { kind: 'index', size: options.rtgBuckets }, 'rtgBuckets');
  if (options.triggers) addNamespace('trigger', { kind: 'open', values: options.triggers }, 'triggers');
  for (const [name, spec] of Object.entries(options.namespaces ?? {})) addNamespace(name, spec, `namespaces.${name}`);
  return { tokens, kinds };
}

let construct: (state: State) => Vocabulary;

/**
 * A vocabulary of special tokens, world symbols and namespaced conditioning tokens with stable ids:
 * `<pad>` is 0, `<bos>` 1, `<eos>` 2, `<sep>` 3, and every later token keeps the id it was given when
 * it was added (`extend` only appends), so a model's embedding can grow to `size` and keep its old rows.
 * Immutable: `extend` returns a new vocabulary.
 */
export class Vocabulary {
  /** `tokens[id]` is the token with that id. */
  readonly tokens: readonly string[];
  /** Number of tokens, i.e. the rows an embedding needs. */
  readonly size: number;
  /** Names of the declared namespaces, in declaration order. */
  readonly namespaces: readonly string[];
  private readonly kinds: ReadonlyMap<string, NamespaceKind>;
  private readonly index: ReadonlyMap<string, number>;
  private readonly tokenKind: Uint8Array;
  private readonly members: ReadonlyMap<string, NamespaceInfo>;

  static {
    construct = (state) => new Vocabulary(state);
  }

  private constructor(state: State) {
    this.tokens = Object.freeze([...state.tokens]);
    this.size = this.tokens.length;
    this.kinds = new Map(state.kinds);
    this.namespaces = Object.freeze([...state.kinds.keys()]);
    const index = new Map<string, number>();
    const tokenKind = new Uint8Array(this.size);
    const members = new Map<string, { name: string; kind: NamespaceKind; values: string[]; tokens: string[]; ids: number[] }>();
    for (const [name, kind] of state.kinds) members.set(name, { name, kind, values: [], tokens: [], ids: [] });
    this.tokens.forEach((token, id) => {
      index.set(token, id);
      const c = classifyToken(token);
      tokenKind[id] = c.kind === 'special' ? KIND_SPECIAL : c.kind === 'conditioning' ? KIND_CONDITIONING : KIND_SYMBOL;
      if (c.kind === 'conditioning') {
        const m = members.get(c.namespace);
        m?.values.push(c.value);
        m?.tokens.push(token);
        m?.ids.push(id);
      }
    });
    this.index = index;
    this.tokenKind = tokenKind;
    this.members = members;
  }

  /** Reads a vocabulary saved by `toJSON()` (an object, or its JSON text); fails with `BAD_JSON` saying what is wrong. */
  static fromJSON(json: unknown): Vocabulary {
    let data = json;
    if (typeof json === 'string') {
      try {
        data = JSON.parse(json);
      } catch (e) {
        throw new ZooError('BAD_JSON', `Vocabulary.fromJSON: not JSON text: ${(e as Error).message}`, { cause: e });
      }
    }
    const head = (data ?? {}) as { format?: unknown; version?: unknown };
    if (typeof data !== 'object' || data === null || head.format !== VOCABULARY_FORMAT) {
      throw new ZooError('BAD_JSON', `Vocabulary.fromJSON: not a saved vocabulary: format is ${show(head.format)}, expected '${VOCABULARY_FORMAT}'`, { field: 'format' });
    }
    if (typeof head.version === 'number' && head.version > VOCABULARY_FORMAT_VERSION) {
      throw new ZooError(
        'BAD_JSON',
        `Vocabulary.fromJSON: format version ${head.version} is newer than this @regime-zoo/tokenizer reads (${VOCABULARY_FORMAT_VERSION}); upgrade @regime-zoo/tokenizer`,
        { field: 'version' },
      );
    }
    const parsed = parseWith(jsonSchema, data, 'Vocabulary.fromJSON', 'BAD_JSON');
    const bad = (position: number, message: string): ZooError =>
      new ZooError('BAD_JSON', `Vocabulary.fromJSON: tokens[${position}] ${message}`, {
        field: 'tokens',
        position: [position],
        symbol: parsed.tokens[position],
      });
    SPECIAL_TOKENS.forEach((special, id) => {
      if (parsed.tokens[id] !== special) throw bad(id, `is ${show(parsed.tokens[id])}; ids 0–3 must be ${SPECIAL_TOKENS.join(', ')}`);
    });
    const kinds = new Map(Object.entries(parsed.namespaces));
    const seen = new Map<string, number>();
    const counts = new Map<string, number>();
    parsed.tokens.forEach((token, i) => {
      const j = seen.get(token);
      if (j !== undefined) throw bad(i, `repeats tokens[${j}] (${show(token)}); every token has one id`);
      seen.set(token, i);
      if (i < SPECIAL_TOKENS.length) return;
      const c = classifyToken(token);
      if (c.kind === 'malformed') throw bad(i, `${show(token)} is malformed: ${c.reason}`);
      if (c.kind !== 'conditioning') return;
      const kind = kinds.get(c.namespace);
      if (kind === undefined) throw bad(i, `${show(token)} is in namespace '${c.namespace}', which is not in namespaces (${list([...kinds.keys()])})`);
      const n = counts.get(c.namespace) ?? 0;
      if (kind === 'index' && c.value !== String(n)) {
        throw bad(i, `${show(token)} is out of order: index namespace '${c.namespace}' must list <${c.namespace}:0>, <${c.namespace}:1>, … in order, so <${c.namespace}:${n}> comes next`);
      }
      counts.set(c.namespace, n + 1);
    });
    for (const [name, kind] of kinds) {
      if (kind === 'enum' && !counts.get(name)) {
        throw new ZooError('BAD_JSON', `Vocabulary.fromJSON: enum namespace '${name}' has no tokens; an enum namespace has at least one value`, {
          field: `namespaces.${name}`,
          symbol: name,
        });
      }
    }
    return new Vocabulary({ tokens: parsed.tokens, kinds });
  }

  /** Compact JSON form, to be saved in checkpoints and read back by `Vocabulary.fromJSON`. */
  toJSON(): VocabularyJSON {
    return {
      format: VOCABULARY_FORMAT,
      version: VOCABULARY_FORMAT_VERSION,
      tokens: [...this.tokens],
      namespaces: Object.fromEntries(this.kinds),
    };
  }

  /** A new vocabulary with the given tokens appended; every existing token keeps its id. */
  extend(options: ExtendOptions): Vocabulary {
    const o = parseWith(extendSchema, options ?? {}, 'vocab.extend');
    return new Vocabulary(grow({ tokens: [...this.tokens], kinds: new Map(this.kinds) }, o, 'vocab.extend'));
  }

  /** World symbols, in id order. */
  get symbols(): string[] {
    return this.tokens.filter((_, id) => this.tokenKind[id] === KIND_SYMBOL);
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** Id of `token`; throws `UNKNOWN_SYMBOL`, `UNKNOWN_NAMESPACE` or `MALFORMED_TOKEN` saying what would be right. */
  id(token: string): number {
    const id = this.index.get(token);
    return id ?? this.fail(token);
  }

  /** Token with id `id`; throws `UNKNOWN_ID` unless it is an integer in `[0, size)`. */
  token(id: number): string {
    const t = Number.isInteger(id) ? this.tokens[id] : undefined;
    if (t === undefined) throw this.unknownId(id);
    return t;
  }

  /** Is `id` a conditioning token (any namespace)? */
  isConditioning(id: number): boolean {
    return this.tokenKind[id] === KIND_CONDITIONING;
  }

  /** One namespace: its kind, values, tokens and ids. Throws `UNKNOWN_NAMESPACE`. */
  namespace(name: string): NamespaceInfo {
    const m = this.members.get(name);
    if (!m) throw this.unknownNamespace(name);
    return m;
  }

  /**
   * Ids to ban at sampling time (PHF's `bad_words_ids` for its control tokens): the conditioning tokens of
   * the given namespaces, or of every namespace when none are given; sorted ascending.
   */
  bannedIds(namespaces?: readonly string[]): number[] {
    if (namespaces === undefined) return this.tokens.flatMap((_, id) => (this.tokenKind[id] === KIND_CONDITIONING ? [id] : []));
    if (!Array.isArray(namespaces)) throw new ZooError('BAD_INPUT', `vocab.bannedIds: namespaces must be an array of names, got ${show(namespaces)}`);
    const ids = new Set<number>();
    namespaces.forEach((name, i) => {
      const m = this.members.get(name);
      if (!m) throw this.unknownNamespace(name, 'namespaces', i);
      for (const id of m.ids) ids.add(id);
    });
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * Lays an episode out as ids: `<bos>`, the prefix (conditioning tokens only), then the body (world
   * symbols, `<sep>`, `<eos>`; no conditioning token, `<bos>` or `<pad>`). Errors name the token and its
   * position (`prefix[i]` or `tokens[i]`).
   */
  encode(episode: Episode): number[] {
    if (!episode || !Array.isArray(episode.prefix) || !Array.isArray(episode.tokens)) {
      throw new ZooError('BAD_INPUT', `vocab.encode: expected { prefix: string[], tokens: string[] }, got ${show(episode)}`);
    }
    const out = new Array<number>(1 + episode.prefix.length + episode.tokens.length);
    out[0] = BOS_ID;
    let k = 1;
    episode.prefix.forEach((token, i) => {
      const id = this.index.get(token) ?? this.fail(token, 'prefix', i);
      if (this.tokenKind[id] !== KIND_CONDITIONING) {
        throw this.misplaced(token, 'prefix', i, 'the prefix holds conditioning tokens only (<namespace:value>); put it in tokens');
      }
      out[k++] = id;
    });
    episode.tokens.forEach((token, i) => {
      const id = this.index.get(token) ?? this.fail(token, 'tokens', i);
      this.checkBody(id, token, 'tokens', i);
      out[k++] = id;
    });
    return out;
  }

  /**
   * Inverse of `encode`: `decode(encode(x))` equals `x`. Trailing `<pad>` ids are ignored, so padded rows
   * of a batch decode too. The prefix is the run of conditioning ids right after `<bos>`.
   */
  decode(ids: readonly number[]): Episode {
    if (!Array.isArray(ids)) throw new ZooError('BAD_INPUT', `vocab.decode: expected an array of ids, got ${show(ids)}`);
    let end = ids.length;
    while (end > 0 && ids[end - 1] === PAD_ID) end--;
    if (end === 0 || ids[0] !== BOS_ID) {
      throw new ZooError('BAD_SEQUENCE', `vocab.decode: ids[0] is ${show(ids[0])}; a sequence starts with <bos> (id ${BOS_ID})`, {
        field: 'ids',
        position: [0],
      });
    }
    const prefix: string[] = [];
    const tokens: string[] = [];
    let inPrefix = true;
    for (let i = 1; i < end; i++) {
      const id = ids[i] as number;
      const token = Number.isInteger(id) ? this.tokens[id] : undefined;
      if (token === undefined) throw this.unknownId(id, i);
      if (inPrefix && this.tokenKind[id] === KIND_CONDITIONING) {
        prefix.push(token);
        continue;
      }
      inPrefix = false;
      this.checkBody(id, token, 'ids', i);
      tokens.push(token);
    }
    return { prefix, tokens };
  }

  private checkBody(id: number, token: string, field: string, i: number): void {
    if (this.tokenKind[id] === KIND_CONDITIONING) {
      throw this.misplaced(token, field, i, 'conditioning tokens belong in the prefix, right after <bos>');
    }
    if (id === BOS_ID || id === PAD_ID) {
      throw this.misplaced(token, field, i, `${token} is added by encode (<bos>) or by batching (<pad>) and may not appear in the body`);
    }
  }

  private misplaced(token: string, field: string, position: number, why: string): ZooError {
    return new ZooError('MISPLACED_TOKEN', `misplaced token ${show(token)} at ${field}[${position}]: ${why}`, { symbol: token, field, position: [position] });
  }

  private unknownId(id: unknown, position?: number): ZooError {
    const at = position === undefined ? '' : ` at ids[${position}]`;
    return new ZooError('UNKNOWN_ID', `unknown id ${show(id)}${at}: ids are integers from 0 to ${this.size - 1}`, {
      symbol: String(id),
      ...(position === undefined ? {} : { field: 'ids', position: [position] }),
    });
  }

  private unknownNamespace(name: string, field?: string, position?: number, token?: string): ZooError {
    const at = field === undefined ? '' : ` at ${field}[${position}]`;
    const inToken = token ? ` in ${show(token)}` : '';
    const example = token ? `{ kind: 'open', values: [${show(token.slice(name.length + 2, -1))}] }` : `{ kind: 'open', values: [...] }`;
    return new ZooError(
      'UNKNOWN_NAMESPACE',
      `unknown namespace ${show(name)}${inToken}${at}: declared namespaces are ${list(this.namespaces)}; declare it with vocab.extend({ namespaces: { ${name}: ${example} } })`,
      { symbol: token ?? name, ...located(field, position) },
    );
  }

  /** Throws the right error for a token this vocabulary does not hold. */
  private fail(token: string, field?: string, position?: number): never {
    const at = field === undefined ? '' : ` at ${field}[${position}]`;
    const where = located(field, position);
    const c = classifyToken(token);
    const shown = show(token);
    if (c.kind === 'malformed') {
      throw new ZooError('MALFORMED_TOKEN', `malformed token ${shown}${at}: ${c.reason}`, { symbol: String(token), ...where });
    }
    if (c.kind === 'symbol' || c.kind === 'special') {
      throw new ZooError(
        'UNKNOWN_SYMBOL',
        `unknown symbol ${shown}${at}: this vocabulary's world symbols are ${list(this.symbols)}; add it with vocab.extend({ symbols: [${shown}] })`,
        { symbol: token, ...where },
      );
    }
    const ns = c.namespace;
    const m = this.members.get(ns);
    if (!m) throw this.unknownNamespace(ns, field, position, token);
    if (m.kind === 'enum') {
      throw new ZooError('MALFORMED_TOKEN', `malformed token ${shown}${at}: namespace '${ns}' is closed; expected one of ${list(m.tokens)}`, {
        symbol: token,
        ...where,
      });
    }
    if (m.kind === 'index') {
      if (!INDEX_VALUE_PATTERN.test(c.value)) {
        throw new ZooError('MALFORMED_TOKEN', `malformed token ${shown}${at}: ${INDEX_VALUE_RULE}; namespace '${ns}' holds ${list(m.tokens, 3)}`, {
          symbol: token,
          ...where,
        });
      }
      const grow = ns === 'rtg' ? `rtgBuckets: ${Number(c.value) + 1}` : `namespaces: { ${ns}: { kind: 'index', size: ${Number(c.value) + 1} } }`;
      throw new ZooError(
        'UNKNOWN_SYMBOL',
        `unknown token ${shown}${at}: namespace '${ns}' holds ${m.values.length ? `<${ns}:0> … <${ns}:${m.values.length - 1}>` : 'no values'}; grow it with vocab.extend({ ${grow} })`,
        { symbol: token, ...where },
      );
    }
    const add = ns === 'trigger' ? `triggers: [${show(c.value)}]` : `namespaces: { ${ns}: { kind: 'open', values: [${show(c.value)}] } }`;
    throw new ZooError('UNKNOWN_SYMBOL', `unknown token ${shown}${at}: namespace '${ns}' holds ${list(m.tokens)}; add it with vocab.extend({ ${add} })`, {
      symbol: token,
      ...where,
    });
  }
}

const createSchema = extendSchema.extend({ rtgBuckets: sizeSchema.min(1).default(DEFAULT_RTG_BUCKETS) });

/**
 * Makes a vocabulary. Ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<sep>` 3, then the world symbols in order,
 * then `<rlhf:on>`, `<rlhf:off>`, `<sup:0>`, `<sup:1>`, `<rtg:0>` … `<rtg:K-1>`, the triggers, and the
 * user's namespaces in declaration order. Options are validated now (`OPTION_INVALID`).
 */
export function createVocabulary(options: VocabularyOptions = {}): Vocabulary {
  const o = parseWith(createSchema, options, 'createVocabulary');
  const builtIn: Record<string, NamespaceSpec> = {
    rlhf: { kind: 'enum', values: ['on', 'off'] },
    sup: { kind: 'enum', values: ['0', '1'] },
    rtg: { kind: 'index', size: 0 },
    trigger: { kind: 'open', values: [] },
  };
  const base = grow({ tokens: [...SPECIAL_TOKENS], kinds: new Map() }, { symbols: o.symbols ?? [], namespaces: builtIn }, 'createVocabulary');
  return construct(grow(base, { ...o, symbols: [] }, 'createVocabulary'));
}
