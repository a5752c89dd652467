import { ZooError } from '@regime-zoo/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BOS_ID, EOS_ID, PAD_ID, SEP_ID, SYMBOL_PATTERN } from './grammar.js';
import { thrown } from './test-helpers.js';
import { createVocabulary, Vocabulary } from './vocabulary.js';
import type { Episode, ExtendOptions } from './vocabulary.js';

const gridVocab = () => createVocabulary({ symbols: ['#', '.', 'A', 'G', 'up'], triggers: ['Z'] });

const symbolArb = fc.string({ minLength: 1, maxLength: 5 }).filter((s) => SYMBOL_PATTERN.test(s));
const valueArb = fc.stringMatching(/^[A-Za-z0-9_.+-]{1,6}$/);

/** A random vocabulary: random symbols, rtg size, triggers and one user namespace. */
const vocabArb = fc
  .record({
    symbols: fc.uniqueArray(symbolArb, { minLength: 1, maxLength: 20 }),
    rtgBuckets: fc.integer({ min: 1, max: 10 }),
    triggers: fc.uniqueArray(valueArb, { maxLength: 4 }),
    tags: fc.uniqueArray(valueArb, { minLength: 1, maxLength: 4 }),
  })
  .map(({ tags, ...o }) => createVocabulary({ ...o, namespaces: { tag: { kind: 'open', values: tags } } }));

/** A vocabulary with an episode drawn from its tokens. */
const vocabAndEpisodeArb = vocabArb.chain((vocab) => {
  const conditioning = vocab.bannedIds().map((id) => vocab.token(id));
  const body = [...vocab.symbols, '<sep>', '<eos>'];
  return fc
    .record({
      prefix: fc.array(fc.constantFrom(...conditioning), { maxLength: 6 }),
      tokens: fc.array(fc.constantFrom(...body), { maxLength: 64 }),
    })
    .map((episode: Episode) => ({ vocab, episode }));
});

describe('Vocabulary ids', () => {
  it('should give <pad> id 0 and lay out specials, symbols, rlhf, sup, rtg, triggers, then user namespaces', () => {
    const v = createVocabulary({ symbols: ['#', '.'], rtgBuckets: 3, triggers: ['Z'], namespaces: { mode: { kind: 'enum', values: ['a', 'b'] } } });
    expect(v.tokens).toEqual([
      '<pad>', '<bos>', '<eos>', '<sep>', '#', '.', '<rlhf:on>', '<rlhf:off>', '<sup:0>', '<sup:1>',
      '<rtg:0>', '<rtg:1>', '<rtg:2>', '<trigger:Z>', '<mode:a>', '<mode:b>',
    ]);
    expect([v.id('<pad>'), v.id('<bos>'), v.id('<eos>'), v.id('<sep>')]).toEqual([PAD_ID, BOS_ID, EOS_ID, SEP_ID]);
    expect([PAD_ID, BOS_ID, EOS_ID, SEP_ID]).toEqual([0, 1, 2, 3]);
    expect(v.size).toBe(16);
    expect(v.namespaces).toEqual(['rlhf', 'sup', 'rtg', 'trigger', 'mode']);
    expect(v.namespace('rtg')).toEqual({ name: 'rtg', kind: 'index', values: ['0', '1', '2'], tokens: ['<rtg:0>', '<rtg:1>', '<rtg:2>'], ids: [10, 11, 12] });
    expect(v.symbols).toEqual(['#', '.']);
  });

  it('should default to K=5 rtg buckets and no symbols or triggers', () => {
    const v = createVocabulary();
    expect(v.namespace('rtg').values).toEqual(['0', '1', '2', '3', '4']);
    expect(v.namespace('trigger').values).toEqual([]);
    expect(v.size).toBe(4 + 2 + 2 + 5);
  });

  it('should map every id to its token and back', () => {
    fc.assert(
      fc.property(vocabArb, (v) => {
        v.tokens.forEach((t, id) => {
          expect(v.id(t)).toBe(id);
          expect(v.token(id)).toBe(t);
        });
        expect(v.size).toBe(new Set(v.tokens).size);
      }),
    );
  });
});

describe('encode / decode', () => {
  it('should lay an episode out as <bos> prefix body', () => {
    const v = gridVocab();
    const ids = v.encode({ prefix: ['<rlhf:on>', '<rtg:4>'], tokens: ['#', 'A', '<sep>', 'up', 'G', '<eos>'] });
    expect(ids).toEqual([BOS_ID, v.id('<rlhf:on>'), v.id('<rtg:4>'), v.id('#'), v.id('A'), SEP_ID, v.id('up'), v.id('G'), EOS_ID]);
    expect(ids).toEqual([1, 9, 17, 4, 6, 3, 8, 7, 2]);
  });

  it('should decode(encode(x)) = x over random vocabularies, prefixes and episodes', () => {
    fc.assert(
      fc.property(vocabAndEpisodeArb, ({ vocab, episode }) => {
        const ids = vocab.encode(episode);
        expect(ids).toHaveLength(1 + episode.prefix.length + episode.tokens.length);
        expect(vocab.decode(ids)).toEqual(episode);
      }),
    );
  });

  it('should survive a save and reload between encode and decode', () => {
    fc.assert(
      fc.property(vocabAndEpisodeArb, ({ vocab, episode }) => {
        const reloaded = Vocabulary.fromJSON(JSON.stringify(vocab.toJSON()));
        expect(reloaded.decode(vocab.encode(episode))).toEqual(episode);
      }),
      { numRuns: 50 },
    );
  });

  it('should ignore trailing <pad> when decoding a padded row', () => {
    const v = gridVocab();
    const x = { prefix: ['<sup:1>'], tokens: ['#', '<sep>', 'up', '<eos>'] };
    expect(v.decode([...v.encode(x), PAD_ID, PAD_ID, PAD_ID])).toEqual(x);
  });

  it('should report an unknown symbol with the symbol, its position and the fix', () => {
    const e = thrown(() => gridVocab().encode({ prefix: ['<rlhf:on>'], tokens: ['#', '.', 'X', '.'] }));
    expect(e.code).toBe('UNKNOWN_SYMBOL');
    expect(e.symbol).toBe('X');
    expect(e.field).toBe('tokens');
    expect(e.position).toEqual([2]);
    expect(e.message).toBe(
      "unknown symbol 'X' at tokens[2]: this vocabulary's world symbols are #, ., A, G, up; add it with vocab.extend({ symbols: ['X'] })",
    );
  });

  it('should report the position of an unknown symbol wherever it is injected', () => {
    fc.assert(
      fc.property(vocabAndEpisodeArb, fc.nat(), ({ vocab, episode }, at) => {
        const pos = at % (episode.tokens.length + 1);
        const unknown = 'zz' + vocab.size; // never a symbol: generated symbols are at most 5 characters
        const tokens = [...episode.tokens.slice(0, pos), unknown, ...episode.tokens.slice(pos)];
        const e = thrown(() => vocab.encode({ prefix: episode.prefix, tokens }));
        expect([e.code, e.symbol, e.field, e.position]).toEqual(['UNKNOWN_SYMBOL', unknown, 'tokens', [pos]]);
      }),
    );
  });

  it('should report an unknown namespace with the token and its position in the prefix', () => {
    const e = thrown(() => gridVocab().encode({ prefix: ['<rtg:0>', '<foo:1>'], tokens: [] }));
    expect([e.code, e.symbol, e.field, e.position]).toEqual(['UNKNOWN_NAMESPACE', '<foo:1>', 'prefix', [1]]);
    expect(e.message).toBe(
      "unknown namespace 'foo' in '<foo:1>' at prefix[1]: declared namespaces are rlhf, sup, rtg, trigger; declare it with vocab.extend({ namespaces: { foo: { kind: 'open', values: ['1'] } } })",
    );
  });

  it('should report malformed tokens with their position and what would be right', () => {
    const v = gridVocab();
    const cases: [Episode, string, string, number, string][] = [
      [{ prefix: ['<rtg:>'], tokens: [] }, '<rtg:>', 'prefix', 0, "malformed token '<rtg:>' at prefix[0]: the value is empty; write <rtg:VALUE>"],
      [{ prefix: ['<sup:0>', '<rlhf:maybe>'], tokens: [] }, '<rlhf:maybe>', 'prefix', 1, "malformed token '<rlhf:maybe>' at prefix[1]: namespace 'rlhf' is closed; expected one of <rlhf:on>, <rlhf:off>"],
      [{ prefix: [], tokens: ['#', '<foo'] }, '<foo', 'tokens', 1, "malformed token '<foo' at tokens[1]: it opens '<' but never closes it; write <namespace:value>"],
      [{ prefix: ['<rtg:x>'], tokens: [] }, '<rtg:x>', 'prefix', 0, "malformed token '<rtg:x>' at prefix[0]: an index value is a non-negative integer without leading zeros; namespace 'rtg' holds <rtg:0>, <rtg:1>, <rtg:2>, … (5 in all)"],
      [{ prefix: [], tokens: ['.', '.', 'a b'] }, 'a b', 'tokens', 2, "malformed token 'a b' at tokens[2]: a world symbol is 1–32 characters without whitespace, '<' or '>'"],
    ];
    for (const [episode, symbol, field, position, message] of cases) {
      const e = thrown(() => v.encode(episode));
      expect([e.code, e.symbol, e.field, e.position, e.message]).toEqual(['MALFORMED_TOKEN', symbol, field, [position], message]);
    }
  });

  it('should say how to grow rtg or add a trigger for a well-formed token the vocabulary lacks', () => {
    const v = gridVocab();
    const rtg = thrown(() => v.encode({ prefix: ['<rtg:7>'], tokens: [] }));
    expect([rtg.code, rtg.position]).toEqual(['UNKNOWN_SYMBOL', [0]]);
    expect(rtg.message).toBe("unknown token '<rtg:7>' at prefix[0]: namespace 'rtg' holds <rtg:0> … <rtg:4>; grow it with vocab.extend({ rtgBuckets: 8 })");
    const trig = thrown(() => v.encode({ prefix: ['<trigger:Y>'], tokens: [] }));
    expect(trig.code).toBe('UNKNOWN_SYMBOL');
    expect(trig.message).toBe("unknown token '<trigger:Y>' at prefix[0]: namespace 'trigger' holds <trigger:Z>; add it with vocab.extend({ triggers: ['Y'] })");
    expect(v.extend({ rtgBuckets: 8 }).encode({ prefix: ['<rtg:7>'], tokens: [] })).toHaveLength(2);
  });

  it('should refuse tokens in the wrong part of an episode', () => {
    const v = gridVocab();
    const cases: [Episode, string, string, number][] = [
      [{ prefix: ['<rlhf:on>', '#'], tokens: [] }, '#', 'prefix', 1],
      [{ prefix: ['<eos>'], tokens: [] }, '<eos>', 'prefix', 0],
      [{ prefix: [], tokens: ['#', '<rlhf:on>'] }, '<rlhf:on>', 'tokens', 1],
      [{ prefix: [], tokens: ['<pad>'] }, '<pad>', 'tokens', 0],
      [{ prefix: [], tokens: ['.', '.', '<bos>'] }, '<bos>', 'tokens', 2],
    ];
    for (const [episode, symbol, field, position] of cases) {
      const e = thrown(() => v.encode(episode));
      expect([e.code, e.symbol, e.field, e.position]).toEqual(['MISPLACED_TOKEN', symbol, field, [position]]);
    }
    expect(thrown(() => v.encode({ tokens: [] } as unknown as Episode)).code).toBe('BAD_INPUT');
  });

  it('should refuse id sequences that are not episodes, naming the position', () => {
    const v = gridVocab();
    const noBos = thrown(() => v.decode([4, 5]));
    expect([noBos.code, noBos.position]).toEqual(['BAD_SEQUENCE', [0]]);
    expect(thrown(() => v.decode([PAD_ID])).code).toBe('BAD_SEQUENCE');
    const badId = thrown(() => v.decode([BOS_ID, 4, v.size, EOS_ID]));
    expect([badId.code, badId.field, badId.position]).toEqual(['UNKNOWN_ID', 'ids', [2]]);
    const late = thrown(() => v.decode([BOS_ID, v.id('<rlhf:on>'), 4, v.id('<rlhf:off>')]));
    expect([late.code, late.symbol, late.position]).toEqual(['MISPLACED_TOKEN', '<rlhf:off>', [3]]);
    const midPad = thrown(() => v.decode([BOS_ID, 4, PAD_ID, 5]));
    expect([midPad.code, midPad.position]).toEqual(['MISPLACED_TOKEN', [2]]);
    expect(thrown(() => v.token(1.5)).code).toBe('UNKNOWN_ID');
  });
});

describe('bannedIds', () => {
  it('should list the ids of the named namespaces, or of every conditioning token', () => {
    const v = createVocabulary({ symbols: ['#'], rtgBuckets: 2, triggers: ['Z'] });
    // 0-3 specials, 4 '#', 5-6 rlhf, 7-8 sup, 9-10 rtg, 11 trigger
    expect(v.bannedIds(['rlhf', 'rtg'])).toEqual([5, 6, 9, 10]);
    expect(v.bannedIds(['rtg', 'rlhf', 'rtg'])).toEqual([5, 6, 9, 10]);
    expect(v.bannedIds()).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(v.bannedIds([])).toEqual([]);
    const e = thrown(() => v.bannedIds(['rlhf', 'rtgs']));
    expect([e.code, e.symbol, e.field, e.position]).toEqual(['UNKNOWN_NAMESPACE', 'rtgs', 'namespaces', [1]]);
  });
});

describe('extend and JSON', () => {
  const extensionArb: fc.Arbitrary<ExtendOptions> = fc.record(
    {
      symbols: fc.uniqueArray(symbolArb, { maxLength: 5 }),
      rtgBuckets: fc.integer({ min: 0, max: 3 }), // grow rtg by this many (a vocabulary never shrinks)
      triggers: fc.uniqueArray(valueArb, { maxLength: 3 }),
      namespaces: fc.dictionary(
        fc.constantFrom('tag', 'phase'),
        fc.uniqueArray(valueArb, { maxLength: 3 }).map((values) => ({ kind: 'open' as const, values })),
        { maxKeys: 2 },
      ),
    },
    { requiredKeys: [] },
  );

  it('should keep every old id through toJSON → fromJSON → extend, however often it is repeated', () => {
    fc.assert(
      fc.property(fc.array(extensionArb, { minLength: 1, maxLength: 5 }), (steps) => {
        let v = gridVocab();
        let rtg = 5;
        for (const growth of steps) {
          const step = growth.rtgBuckets === undefined ? growth : { ...growth, rtgBuckets: rtg + growth.rtgBuckets };
          const before = v.tokens;
          const reloaded = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
          expect(reloaded.tokens).toEqual(before);
          const grown = reloaded.extend(step);
          expect(grown.tokens.slice(0, before.length)).toEqual(before);
          before.forEach((t, id) => expect(grown.id(t)).toBe(id));
          for (const s of step.symbols ?? []) expect(grown.has(s)).toBe(true);
          for (const t of step.triggers ?? []) expect(grown.has(`<trigger:${t}>`)).toBe(true);
          rtg = Math.max(rtg, step.rtgBuckets ?? 0);
          expect(grown.namespace('rtg').values).toHaveLength(rtg);
          expect(grown.size).toBe(grown.tokens.length);
          v = grown;
        }
      }),
    );
  });

  it('should append new tokens at the end and leave a vocabulary unchanged when nothing is new', () => {
    const v = gridVocab();
    const grown = v.extend({ symbols: ['#', 'B'], rtgBuckets: 6, namespaces: { phase: { kind: 'enum', values: ['x'] } } });
    expect(grown.tokens.slice(v.size)).toEqual(['B', '<rtg:5>', '<phase:x>']);
    expect(v.size).toBe(19); // the original is untouched
    expect(grown.extend({ symbols: ['B'], rtgBuckets: 6, namespaces: { phase: { kind: 'enum', values: ['x'] } } }).tokens).toEqual(grown.tokens);
  });

  it('should refuse to change a closed namespace, shrink an index one or change a kind', () => {
    const v = gridVocab();
    const closed = thrown(() => v.extend({ namespaces: { rlhf: { kind: 'enum', values: ['on', 'off', 'maybe'] } } }));
    expect([closed.code, closed.field]).toEqual(['OPTION_INVALID', 'namespaces.rlhf']);
    expect(closed.message).toMatch(/namespace 'rlhf' is closed \(enum\) with values on, off/);
    const shrink = thrown(() => v.extend({ rtgBuckets: 3 }));
    expect([shrink.code, shrink.field]).toEqual(['OPTION_INVALID', 'rtgBuckets']);
    expect(shrink.message).toMatch(/already has 5 values .* pass a size ≥ 5/);
    const kind = thrown(() => v.extend({ namespaces: { trigger: { kind: 'enum', values: ['Z'] } } }));
    expect(kind.message).toMatch(/namespace 'trigger' is open, not enum/);
  });

  it('should write a compact versioned JSON form and read it back', () => {
    const v = createVocabulary({ symbols: ['#'], rtgBuckets: 2 });
    expect(v.toJSON()).toEqual({
      format: 'regime-zoo/vocabulary',
      version: 1,
      tokens: ['<pad>', '<bos>', '<eos>', '<sep>', '#', '<rlhf:on>', '<rlhf:off>', '<sup:0>', '<sup:1>', '<rtg:0>', '<rtg:1>'],
      namespaces: { rlhf: 'enum', sup: 'enum', rtg: 'index', trigger: 'open' },
    });
    const back = Vocabulary.fromJSON(JSON.stringify(v));
    expect(back.toJSON()).toEqual(v.toJSON());
    expect(back.namespace('trigger').kind).toBe('open');
    // a closed namespace stays closed after a reload
    expect(thrown(() => back.id('<rlhf:maybe>')).code).toBe('MALFORMED_TOKEN');
  });

  it('should fail clearly on JSON that is not a valid vocabulary', () => {
    const good = createVocabulary({ symbols: ['#', '.'] }).toJSON();
    const cases: [unknown, Partial<{ field: string; position: number[] }>, RegExp][] = [
      ['{not json', {}, /not JSON text/],
      [{ ...good, format: 'regime-zoo/return-buckets' }, { field: 'format' }, /format is 'regime-zoo\/return-buckets', expected 'regime-zoo\/vocabulary'/],
      [{ ...good, version: 2 }, { field: 'version' }, /version 2 is newer .* upgrade @regime-zoo\/tokenizer/],
      [{ ...good, tokens: ['<bos>', '<pad>', ...good.tokens.slice(2)] }, { field: 'tokens', position: [0] }, /tokens\[0\] is '<bos>'; ids 0–3 must be <pad>, <bos>, <eos>, <sep>/],
      [{ ...good, tokens: [...good.tokens, '#'] }, { field: 'tokens', position: [good.tokens.length] }, /repeats tokens\[4\]/],
      [{ ...good, tokens: [...good.tokens, '<foo'] }, { position: [good.tokens.length] }, /'<foo' is malformed/],
      [{ ...good, tokens: [...good.tokens, '<mode:a>'] }, { position: [good.tokens.length] }, /namespace 'mode', which is not in namespaces/],
      [{ ...good, tokens: [...good.tokens, '<rtg:6>'] }, { position: [good.tokens.length] }, /out of order.*<rtg:5> comes next/],
      [{ ...good, namespaces: { ...good.namespaces, mode: 'enum' } }, { field: 'namespaces.mode' }, /enum namespace 'mode' has no tokens/],
      [{ ...good, namespaces: { ...good.namespaces, rtg: 'bucket' } }, { field: 'namespaces.rtg' }, /namespaces\.rtg: .*got 'bucket'/],
      [{ ...good, extra: 1 }, {}, /extra/],
    ];
    for (const [json, where, message] of cases) {
      const e = thrown(() => Vocabulary.fromJSON(json));
      expect(e.code).toBe('BAD_JSON');
      expect(e.message).toMatch(message);
      expect(e).toMatchObject(where);
    }
  });
});

describe('options', () => {
  it('should validate options when the vocabulary is made, naming the option', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ symbols: ['#', 'a b'] }, 'symbols[1]', /symbols\[1\]: a world symbol is 1–32 characters .*\(got 'a b'\)/],
      [{ symbols: ['#', '<x>'] }, 'symbols[1]', /world symbol/],
      [{ symbols: ['#', '.', '#'] }, 'symbols[2]', /'#' repeats symbols\[0\]/],
      [{ rtgBuckets: 0 }, 'rtgBuckets', /rtgBuckets/],
      [{ rtgBuckets: 2.5 }, 'rtgBuckets', /rtgBuckets/],
      [{ rtgbuckets: 8 }, '', /rtgbuckets/],
      [{ triggers: ['a:b'] }, 'triggers[0]', /a conditioning value is/],
      [{ namespaces: { Mode: { kind: 'open' } } }, 'namespaces.Mode', /a namespace is a lower-case letter/],
      [{ namespaces: { mode: { kind: 'enum', values: [] } } }, 'namespaces.mode.values', /namespaces\.mode\.values/],
      [{ namespaces: { mode: { kind: 'list', values: ['a'] } } }, 'namespaces.mode.kind', /namespaces\.mode\.kind/],
    ];
    for (const [options, field, message] of cases) {
      const e = thrown(() => createVocabulary(options as never));
      expect(e.code).toBe('OPTION_INVALID');
      expect(e.message).toMatch(/^createVocabulary: bad option /);
      expect(e.message).toMatch(message);
      expect(e.field).toBe(field);
    }
  });

  it("should throw core's ZooError, with the zod error as its cause", () => {
    const e = thrown(() => createVocabulary({ rtgBuckets: 0 }));
    expect(e).toBeInstanceOf(ZooError);
    expect(e.name).toBe('ZooError');
    expect(e.cause).toBeInstanceOf(z.ZodError);
  });
});
