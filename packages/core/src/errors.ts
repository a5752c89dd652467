/** Every error regime-zoo raises has one of these codes. */
export type ZooErrorCode =
  | 'CONFIG_INVALID'
  | 'OPTION_INVALID'
  | 'TOKEN_OUT_OF_RANGE'
  | 'SEQUENCE_TOO_LONG'
  | 'SHAPE_MISMATCH'
  | 'CHECKPOINT_MISSING'
  | 'CHECKPOINT_CORRUPT'
  | 'CHECKPOINT_MISMATCH'
  | 'NON_FINITE'
  | 'ABORTED'
  | 'ENV_ERROR'
  | 'PLUGIN_FAILED'
  // A model or world a probe cannot measure (@regime-zoo/probes)
  | 'PROBE_UNSUPPORTED'
  | 'INTERNAL'
  // Vocabulary and tokens (@regime-zoo/tokenizer)
  | 'UNKNOWN_SYMBOL'
  | 'UNKNOWN_NAMESPACE'
  | 'MALFORMED_TOKEN'
  | 'MISPLACED_TOKEN'
  | 'UNKNOWN_ID'
  | 'BAD_SEQUENCE'
  | 'BAD_INPUT'
  | 'BAD_JSON'
  | 'EMPTY_DATASET'
  | 'BAD_RETURN'
  | 'UNKNOWN_BUCKET'
  // The Redis of a `zoo run --queue` sweep cannot be reached (@regime-zoo/experiment)
  | 'QUEUE_UNREACHABLE';

export interface ZooErrorOptions {
  cause?: unknown;
  /** The config field, option or file the error is about (`dModel`, `options.beta`, `weights.bin`). */
  field?: string;
  /** Position of the offending token: `[row, column]` in a batch or `[column]`. */
  position?: number[];
  /** The offending token or symbol, as given. */
  symbol?: string;
  /** Training step at which it happened. */
  step?: number;
  /** Plugin and hook, when a plugin failed. */
  plugin?: string;
  hook?: string;
}

/**
 * The one error class of regime-zoo (tRPC's `TRPCError` shape): a literal-union `code`, a `cause`,
 * and where it happened. Messages say what was wrong, where, and what would be right.
 */
export class ZooError extends Error {
  override readonly name = 'ZooError';
  readonly code: ZooErrorCode;
  readonly field: string | undefined;
  readonly position: number[] | undefined;
  readonly symbol: string | undefined;
  readonly step: number | undefined;
  readonly plugin: string | undefined;
  readonly hook: string | undefined;

  constructor(code: ZooErrorCode, message: string, options: ZooErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.position = options.position;
    this.symbol = options.symbol;
    this.step = options.step;
    this.plugin = options.plugin;
    this.hook = options.hook;
  }
}

/** Turns anything thrown into a `ZooError` (tRPC's `getTRPCErrorFromUnknown`). */
export function toZooError(e: unknown, fallback: ZooErrorCode = 'INTERNAL'): ZooError {
  if (e instanceof ZooError) return e;
  if (e instanceof Error) return new ZooError(fallback, e.message, { cause: e });
  return new ZooError(fallback, String(e), { cause: e });
}

/**
 * `e` as a `ZooError` that says at which training step it happened (unless it already says a step):
 * the training loop marks what its hooks and the loss throw, so the plugin error says where.
 */
export function withStep(e: unknown, step: number): ZooError {
  const z = toZooError(e);
  if (z.step !== undefined || z.code === 'ABORTED') return z;
  return new ZooError(z.code, z.message, { ...fieldsOf(z), step, cause: z.cause ?? e });
}

function fieldsOf(z: ZooError): ZooErrorOptions {
  return {
    ...(z.field !== undefined ? { field: z.field } : {}),
    ...(z.position ? { position: z.position } : {}),
    ...(z.symbol !== undefined ? { symbol: z.symbol } : {}),
    ...(z.step !== undefined ? { step: z.step } : {}),
  };
}

/**
 * Runs a plugin hook and wraps whatever it throws once, with the plugin's name, the hook and (when the
 * error knows it) the training step, as `[plugin <name>, hook <hook>, step <n>] <message>` (rollup's
 * `logPluginError`), keeping the original as `cause`. A `[<name>] ` or `step <n>: ` the plugin put at the
 * start of its own message is not repeated. An `ABORTED` error, or one already wrapped for this plugin
 * and hook, passes through unchanged.
 */
export async function callPluginHook<T>(plugin: { name: string }, hook: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const inner = toZooError(e);
    if (inner.code === 'ABORTED' || (inner.plugin === plugin.name && inner.hook === hook)) throw inner;
    let message = inner.message;
    const own = `[${plugin.name}] `;
    if (message.startsWith(own)) message = message.slice(own.length);
    if (inner.step !== undefined && message.startsWith(`step ${inner.step}: `)) message = message.slice(`step ${inner.step}: `.length);
    const where = `plugin ${plugin.name}, hook ${hook}${inner.step !== undefined ? `, step ${inner.step}` : ''}`;
    throw new ZooError(inner.code === 'INTERNAL' ? 'PLUGIN_FAILED' : inner.code, `[${where}] ${message}`, { ...fieldsOf(inner), cause: e, plugin: plugin.name, hook });
  }
}
