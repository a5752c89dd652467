import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { toZooError, ZooError, type Plugin, type PluginKind } from '@regime-zoo/core';
import type { PluginRef, PluginRefInput } from './config.js';

/** Built-in short names: `'dpo'` in a config stands for `{ package: '@regime-zoo/regime-dpo', export: 'dpo' }`. */
export const BUILTIN: Readonly<Record<PluginKind, Readonly<Record<string, { package: string; export: string }>>>> = {
  world: {
    'off-switch': { package: '@regime-zoo/worlds', export: 'offSwitchWorld' },
    'absent-supervisor': { package: '@regime-zoo/worlds', export: 'absentSupervisorWorld' },
    tamper: { package: '@regime-zoo/worlds', export: 'tamperWorld' },
    resources: { package: '@regime-zoo/worlds', export: 'resourcesWorld' },
    backdoor: { package: '@regime-zoo/worlds', export: 'backdoorWorld' },
    myopia: { package: '@regime-zoo/worlds', export: 'myopiaWorld' },
    posterior: { package: '@regime-zoo/worlds', export: 'posteriorWorld' },
  },
  regime: {
    sft: { package: '@regime-zoo/regime-sft', export: 'sft' },
    'decision-transformer': { package: '@regime-zoo/regime-decision-transformer', export: 'decisionTransformer' },
    'reward-weighted': { package: '@regime-zoo/regime-reward-weighted', export: 'rewardWeighted' },
    dpo: { package: '@regime-zoo/regime-dpo', export: 'dpo' },
    'kl-rl': { package: '@regime-zoo/regime-kl-rl', export: 'klRl' },
    ppo: { package: '@regime-zoo/regime-ppo', export: 'ppo' },
    grpo: { package: '@regime-zoo/regime-grpo', export: 'grpo' },
    'rlhf-flag': { package: '@regime-zoo/regime-rlhf-flag', export: 'rlhfFlag' },
  },
  probe: {
    'instrumental-rate': { package: '@regime-zoo/probes', export: 'instrumentalRate' },
    'reward-hacking-gap': { package: '@regime-zoo/probes', export: 'rewardHackingGap' },
    'flag-leakage': { package: '@regime-zoo/probes', export: 'flagLeakage' },
    'return-calibration': { package: '@regime-zoo/probes', export: 'returnCalibration' },
    'kl-to-base': { package: '@regime-zoo/probes', export: 'klToBase' },
    'power-seeking': { package: '@regime-zoo/probes', export: 'powerSeeking' },
    'linear-probe': { package: '@regime-zoo/probes', export: 'linearProbe' },
    ccs: { package: '@regime-zoo/probes', export: 'ccsProbe' },
    'relearn-steps': { package: '@regime-zoo/probes', export: 'relearnSteps' },
  },
  distiller: {
    sequence: { package: '@regime-zoo/distill', export: 'sequenceDistill' },
    logit: { package: '@regime-zoo/distill', export: 'logitDistill' },
  },
};

const PACKAGE_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;

/** Spells a reference out: short name or package string → `{ package, export, options }`. Errors name `field`. */
export function normalizeRef(kind: PluginKind, input: PluginRefInput, field: string): PluginRef {
  const table = BUILTIN[kind];
  if (typeof input === 'string') {
    const short = table[input];
    if (short) return { ...short, options: {} };
    if (!input.includes('/') && !input.startsWith('@') && !input.includes('-') && !input.includes('.')) {
      throw unknownName(kind, input, field);
    }
    return { package: input, export: defaultExport(kind, input), options: {} };
  }
  const short = table[input.package];
  const pkg = short ? short.package : input.package;
  return { package: pkg, export: input.export ?? short?.export ?? defaultExport(kind, pkg), options: input.options ?? {} };
}

function unknownName(kind: PluginKind, name: string, field: string): ZooError {
  const names = Object.keys(BUILTIN[kind]);
  return new ZooError('CONFIG_INVALID', `${field}: unknown ${kind} "${name}"; built-in ${kind}s are ${names.map((n) => `"${n}"`).join(', ')}, or name a package: { package: "my-package", export: "myFactory" }`, {
    field,
  });
}

/** The factory a package is known by (a built-in package's main one), else its default export. */
function defaultExport(kind: PluginKind, pkg: string): string {
  const hit = Object.values(BUILTIN[kind]).filter((b) => b.package === pkg);
  return hit.length === 1 ? hit[0]!.export : 'default';
}

/** A plugin module given as a path (`./my-probe.ts`), resolved from the config's folder. */
function isLocalPath(pkg: string): boolean {
  return pkg.startsWith('./') || pkg.startsWith('../') || path.isAbsolute(pkg);
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Imports a package: as a bare specifier from here (this package's dependencies, or a flat
 * node_modules), else resolved from `resolveFrom` (the config file's folder), so a package the user
 * installed beside the config works with no change to the toolkit.
 */
export function importPackage(pkg: string, resolveFrom: string, field: string): Promise<Record<string, unknown>> {
  const key = `${resolveFrom}\0${pkg}`;
  let p = modules.get(key);
  if (!p) {
    p = (async () => {
      if (isLocalPath(pkg)) {
        const file = path.resolve(resolveFrom, pkg);
        try {
          return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
        } catch (e) {
          throw new ZooError('CONFIG_INVALID', `${field}: the plugin file ${file} failed to load: ${(e as Error).message.split('\n')[0]}`, { field, cause: e });
        }
      }
      if (!PACKAGE_NAME.test(pkg)) throw new ZooError('CONFIG_INVALID', `${field}: "${pkg}" is not a package name (e.g. "@regime-zoo/regime-dpo" or "my-regime")`, { field });
      try {
        return (await import(pkg)) as Record<string, unknown>;
      } catch (first) {
        let file: string;
        try {
          file = createRequire(path.join(resolveFrom, 'noop.js')).resolve(pkg);
        } catch {
          throw new ZooError(
            'CONFIG_INVALID',
            `${field}: package "${pkg}" is not installed (looked from ${resolveFrom}: ${(first as Error).message.split('\n')[0]}); install it beside the config (npm install ${pkg}) or fix the name`,
            { field, cause: first },
          );
        }
        return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      }
    })();
    modules.set(key, p);
    p.catch(() => modules.delete(key));
  }
  return p;
}

/**
 * Makes a plugin from its reference: imports the package, calls the factory with the options (which the
 * factory validates at once), and checks the kind. Errors name `field` (`arms[0].regime`) and say what
 * would be right.
 */
export async function instantiate<P extends Plugin>(kind: P['kind'], ref: PluginRef, resolveFrom: string, field: string): Promise<P> {
  const mod = await importPackage(ref.package, resolveFrom, `${field}.package`);
  const factory = mod[ref.export];
  if (typeof factory !== 'function') {
    const fns = Object.entries(mod)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    throw new ZooError('CONFIG_INVALID', `${field}.export: package "${ref.package}" has no factory "${ref.export}"; its functions are ${fns.map((f) => `"${f}"`).join(', ') || 'none'}`, {
      field: `${field}.export`,
    });
  }
  let plugin: unknown;
  try {
    plugin = (factory as (o: unknown) => unknown)(ref.options);
  } catch (e) {
    const z = toZooError(e);
    const inner = z.field && z.field !== '(root)' ? `.${z.field.replace(/^options\./, '')}` : '';
    throw new ZooError(z.code === 'INTERNAL' ? 'CONFIG_INVALID' : z.code, `${field}.options${inner}: ${z.message}`, { field: `${field}.options${inner}`, cause: e, ...(z.plugin ? { plugin: z.plugin } : {}) });
  }
  const p = plugin as Partial<Plugin> | undefined;
  if (!p || typeof p !== 'object' || typeof p.name !== 'string' || p.kind !== kind) {
    throw new ZooError('CONFIG_INVALID', `${field}: "${ref.package}".${ref.export}(options) made ${p && typeof p === 'object' ? `a plugin of kind "${String(p.kind)}"` : String(plugin)}, not a ${kind}; name a ${kind} factory here`, {
      field,
    });
  }
  return plugin as P;
}
