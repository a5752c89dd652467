import { ZooError } from '@regime-zoo/core';

/** TRL's `scale_rewards`: divide by the group's std, the batch's std, or not at all (Dr. GRPO). */
export type ScaleRewards = 'group' | 'batch' | 'none';
/** TRL's `loss_type`: how per-token losses are averaged (see docs/regimes/regime-grpo.md). */
export type LossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo';

/** TRL adds this to the standard deviation before dividing by it. */
export const STD_EPSILON = 1e-4;

export interface GrpoFixedPointOptions {
  /** The agent's actions in every sequence (they form the world's prefix tree), in the order of `ref` and `rewards`. */
  actions: readonly (readonly number[])[];
  /** π_ref of every sequence (normalised here). */
  ref: ArrayLike<number>;
  rewards: readonly number[];
  /** Coefficient of the per-token k3 term in the loss. */
  beta: number;
  /** Group size G; `Infinity` takes the group's mean and std at their population values under π. */
  numGenerations: number;
  scaleRewards?: ScaleRewards;
  /** `grpo` weights each token by 1/|x| (its sequence's action count); the others weigh tokens equally. */
  lossType?: LossType;
  maxIterations?: number;
  /** Stop when the largest expected logit gradient is below this. */
  tolerance?: number;
}

export interface GrpoFixedPoint {
  /** π of every sequence at the fixed point. */
  pi: number[];
  /** Ã(x) = E[A₁ | x₁ = x]: the expected advantage of a sample given that it is x, at the fixed point. */
  advantage: number[];
  iterations: number;
  /** Largest expected logit gradient left (per state, without the state's visit probability). */
  residual: number;
}

interface Node {
  /** Child node of each action, in insertion order. */
  children: number[];
  actions: number[];
  /** Sequences whose path passes through this node. */
  through: number[];
}

/** All count vectors of `n` draws over `k` categories. */
function compositions(n: number, k: number): number[][] {
  if (k === 1) return [[n]];
  const out: number[][] = [];
  for (let c = 0; c <= n; c++) for (const rest of compositions(n - c, k - 1)) out.push([c, ...rest]);
  return out;
}

function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/**
 * Where GRPO's expected update is zero, for a tabular softmax policy (one set of logits per prefix) on an
 * enumerable world: the fixed point the regime's policy approaches when every sample is on-policy.
 * Per state s and action a the expected gradient of the loss is proportional to
 * π(a|s)·(Q(s,a) − Q(s)) − β·[W(s,a)(π(a|s) − π_ref(a|s)) − π(a|s) Σ_b W(s,b)(π(b|s) − π_ref(b|s))],
 * with Q(s,a) = E[w(x)·Ã(x) | s, a], W(s,a) = E[w(x) | s, a], w(x) the token weight of `lossType` and
 * Ã(x) = E[A₁ | x₁ = x] the expected advantage of a sample that is x, given the other G − 1 samples of its
 * group drawn from π (enumerated over the counts of each reward value, so exact for finite G). The
 * solver follows that expected gradient flow on the logits until it vanishes. Derivation:
 * docs/regimes/regime-grpo.md.
 */
export function grpoFixedPoint(o: GrpoFixedPointOptions): GrpoFixedPoint {
  const { actions, rewards, beta } = o;
  const N = actions.length;
  const G = o.numGenerations;
  const scale = o.scaleRewards ?? 'group';
  const lossType = o.lossType ?? 'grpo';
  if (N === 0 || rewards.length !== N || o.ref.length !== N) {
    throw new ZooError('SHAPE_MISMATCH', `grpoFixedPoint needs one reward and one π_ref entry per sequence; got ${N} sequences, ${rewards.length} rewards, ${o.ref.length} π_ref entries`, { field: 'rewards' });
  }
  if (!(beta > 0)) throw new ZooError('OPTION_INVALID', `grpoFixedPoint: beta must be > 0 (got ${beta}); with beta 0 there is no interior fixed point (the policy collapses)`, { field: 'beta' });
  if (!(G === Infinity || (Number.isInteger(G) && G >= 2))) throw new ZooError('OPTION_INVALID', `grpoFixedPoint: numGenerations must be an integer ≥ 2 or Infinity (got ${G})`, { field: 'numGenerations' });

  // The prefix tree of the sequences' actions.
  const nodes: Node[] = [{ children: [], actions: [], through: [] }];
  const leafOf: number[] = [];
  actions.forEach((acts, x) => {
    if (acts.length === 0) throw new ZooError('BAD_INPUT', `grpoFixedPoint: sequence ${x} has no actions`, { field: 'actions', position: [x] });
    let n = 0;
    nodes[0]!.through.push(x);
    for (const a of acts) {
      const node = nodes[n]!;
      let i = node.actions.indexOf(a);
      if (i < 0) {
        node.actions.push(a);
        node.children.push(nodes.length);
        nodes.push({ children: [], actions: [], through: [] });
        i = node.actions.length - 1;
      }
      n = node.children[i]!;
      nodes[n]!.through.push(x);
    }
    if (nodes[n]!.children.length > 0 || leafOf.includes(n)) throw new ZooError('BAD_INPUT', `grpoFixedPoint: the actions of sequence ${x} are a prefix of another sequence's (or repeat one)`, { field: 'actions', position: [x] });
    leafOf.push(n);
  });
  for (const [n, node] of nodes.entries()) if (node.children.length > 0 && leafOf.includes(n)) throw new ZooError('BAD_INPUT', 'grpoFixedPoint: the actions of one sequence are a prefix of another\'s (a sequence ends where another continues); give each complete episode\'s actions, with its stop action', { field: 'actions' });

  const refTotal = Array.from(o.ref).reduce((a, b) => a + b, 0);
  const ref = Float64Array.from(o.ref, (p) => p / refTotal);
  const weight = Float64Array.from(actions, (a) => (lossType === 'grpo' ? 1 / a.length : 1));
  const mass = (p: ArrayLike<number>, n: number, f: (x: number) => number = () => 1) => nodes[n]!.through.reduce((s, x) => s + p[x]! * f(x), 0);
  const states = nodes.flatMap((node, n) => (node.children.length > 0 ? [n] : []));
  // π_ref(a|s), and logits initialised at log π_ref.
  const refCond = new Map(states.map((s) => [s, nodes[s]!.children.map((c) => mass(ref, c) / mass(ref, s))]));
  const logits = new Map(states.map((s) => [s, refCond.get(s)!.map((p) => Math.log(Math.max(p, 1e-300)))]));

  // The reward values and, for finite G, the counts of the other G − 1 samples over them.
  const values = [...new Set(rewards)].sort((a, b) => a - b);
  const valueOf = rewards.map((r) => values.indexOf(r));
  const V = values.length;
  const counts = G === Infinity ? [] : compositions(G - 1, V);
  if (counts.length > 2_000_000) throw new ZooError('OPTION_INVALID', `grpoFixedPoint: ${counts.length} groups to enumerate (G = ${G}, ${V} reward values); use fewer distinct rewards or a smaller G`, { field: 'numGenerations' });
  const logCoef = counts.map((c) => logFactorial(G - 1) - c.reduce((s, k) => s + logFactorial(k), 0));

  const sequenceProbs = (): Float64Array => {
    const pi = new Float64Array(N);
    actions.forEach((acts, x) => {
      let n = 0;
      let p = 1;
      for (const a of acts) {
        const node = nodes[n]!;
        const i = node.actions.indexOf(a);
        const th = logits.get(n)!;
        const max = Math.max(...th);
        const z = th.reduce((s, t) => s + Math.exp(t - max), 0);
        p *= Math.exp(th[i]! - max) / z;
        n = node.children[i]!;
      }
      pi[x] = p;
    });
    return pi;
  };

  /** E[A₁ | r₁ = values[v]] for each reward value, with the other samples of the group drawn from π. */
  const expectedAdvantage = (pi: Float64Array): Float64Array => {
    const q = new Float64Array(V);
    rewards.forEach((_, x) => (q[valueOf[x]!]! += pi[x]!));
    const mean = values.reduce((s, v, i) => s + q[i]! * v, 0);
    const popStd = Math.sqrt(values.reduce((s, v, i) => s + q[i]! * (v - mean) ** 2, 0));
    const out = new Float64Array(V);
    if (G === Infinity) {
      values.forEach((v, i) => (out[i] = scale === 'none' ? v - mean : (v - mean) / (popStd + STD_EPSILON)));
      return out;
    }
    const logq = Array.from(q, (p) => Math.log(Math.max(p, 1e-300)));
    counts.forEach((c, k) => {
      const prob = Math.exp(logCoef[k]! + c.reduce((s, n, i) => s + (n > 0 ? n * logq[i]! : 0), 0));
      if (prob < 1e-300) return;
      const others = c.reduce((s, n, i) => s + n * values[i]!, 0);
      const othersSq = c.reduce((s, n, i) => s + n * values[i]! ** 2, 0);
      values.forEach((v1, j) => {
        const m = (others + v1) / G;
        let a = v1 - m;
        if (scale === 'group') {
          const ss = othersSq + v1 * v1 - G * m * m;
          a /= Math.sqrt(Math.max(ss, 0) / (G - 1)) + STD_EPSILON;
        } else if (scale === 'batch') a /= popStd + STD_EPSILON; // a large batch's std is the population's
        out[j]! += prob * a;
      });
    });
    return out;
  };

  const maxIterations = o.maxIterations ?? 200_000;
  const tolerance = o.tolerance ?? 1e-10;
  const step = 0.5 / Math.max(1, beta);
  let pi = sequenceProbs();
  let adv = new Float64Array(N);
  let residual = Infinity;
  let it = 0;
  for (; it < maxIterations; it++) {
    const byValue = expectedAdvantage(pi);
    adv = Float64Array.from(valueOf, (v) => byValue[v]!);
    residual = 0;
    const updates: [number, number[]][] = [];
    for (const s of states) {
      const node = nodes[s]!;
      const ps = mass(pi, s);
      if (ps <= 0) continue;
      const cond = node.children.map((c) => mass(pi, c) / ps);
      const Q = node.children.map((c) => mass(pi, c, (x) => weight[x]! * adv[x]!) / Math.max(mass(pi, c), 1e-300));
      const W = node.children.map((c) => mass(pi, c, (x) => weight[x]!) / Math.max(mass(pi, c), 1e-300));
      const Qs = cond.reduce((acc, p, i) => acc + p * Q[i]!, 0);
      const rc = refCond.get(s)!;
      const kl = cond.map((p, i) => W[i]! * (p - rc[i]!));
      const klMean = kl.reduce((a, b) => a + b, 0);
      const grad = cond.map((p, i) => p * (Q[i]! - Qs) - beta * (kl[i]! - p * klMean));
      residual = Math.max(residual, ...grad.map(Math.abs));
      updates.push([s, grad]);
    }
    if (residual < tolerance) break;
    for (const [s, grad] of updates) {
      const th = logits.get(s)!;
      grad.forEach((g, i) => (th[i]! += step * g));
    }
    pi = sequenceProbs();
  }
  return { pi: Array.from(pi), advantage: Array.from(adv), iterations: it, residual };
}
