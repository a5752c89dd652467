/*
 * Whole computations as one TensorFlow graph. On tfjs-node every eager op costs ~55 µs before any
 * arithmetic (docs/performance.md), and a training step of a small transformer is hundreds of ops. Here
 * the ops are written once into a TensorFlow GraphDef, wrapped in a SavedModel (graph only, no saved
 * variables), loaded through tfjs-node's SavedModel binding and run with one call: the per-op cost inside
 * TensorFlow's graph executor is a few µs. A graph may also keep state between calls in variables
 * (`compileProgram`: one session, with its own variables, per `open()`). Only the native backend can do
 * this; `graphAvailable()` says whether it can, and callers keep their eager path for the others.
 */

type DType = 'float32' | 'int32' | 'bool';
const DT: Record<DType, number> = { float32: 1, int32: 3, bool: 10 };

/** Minimal protobuf writer: varints, length-delimited fields, fixed32 floats. */
class Pb {
  private readonly bytes: number[] = [];
  varint(value: number | bigint): this {
    let n = BigInt(value);
    if (n < 0n) n += 1n << 64n;
    while (n > 127n) {
      this.bytes.push(Number(n & 127n) | 128);
      n >>= 7n;
    }
    this.bytes.push(Number(n));
    return this;
  }
  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }
  raw(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.raw(field, m.done());
  }
  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.tag(field, 5);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  packedInts(field: number, values: readonly number[]): this {
    const inner = new Pb();
    for (const v of values) inner.varint(v);
    return this.raw(field, inner.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** An attribute value of a graph node (TensorFlow's AttrValue). */
type Attr = { type: DType } | { b: boolean } | { bools: readonly boolean[] } | { i: number } | { f: number } | { ints: readonly number[] } | { shape: readonly number[] | null } | { tensor: TensorConst };
interface TensorConst {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

function shapeProto(dims: readonly number[] | null): Pb {
  const s = new Pb();
  if (dims === null) return s.int(3, 1);
  for (const d of dims) s.msg(2, new Pb().int(1, d));
  return s;
}

function attrProto(a: Attr): Pb {
  if ('type' in a) return new Pb().int(6, DT[a.type]);
  if ('b' in a) return new Pb().int(5, a.b ? 1 : 0);
  if ('bools' in a) return new Pb().msg(1, new Pb().packedInts(5, a.bools.map(Number)));
  if ('i' in a) return new Pb().int(3, a.i);
  if ('f' in a) return new Pb().float(4, a.f);
  if ('ints' in a) return new Pb().msg(1, new Pb().packedInts(3, a.ints));
  if ('shape' in a) return new Pb().msg(7, shapeProto(a.shape));
  const t = a.tensor;
  const tensor = new Pb()
    .int(1, DT[t.dtype])
    .msg(2, shapeProto(t.shape))
    .raw(4, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return new Pb().msg(8, tensor);
}

/** A value in a graph under construction: the output `index` of node `node`. */
export class GNode {
  constructor(
    readonly node: string,
    readonly dtype: DType,
    readonly index = 0,
  ) {}
  get ref(): string {
    return this.index === 0 ? this.node : `${this.node}:${this.index}`;
  }
  get tensorName(): string {
    return `${this.node}:${this.index}`;
  }
}

type Operand = GNode | number;

/**
 * Builds a TensorFlow GraphDef op by op. Methods are named after tfjs's (`matMul`, `add`, `softmax`...)
 * and emit TensorFlow's raw ops; numbers given as operands become float32 (or, next to an int32
 * operand, int32) constants.
 */
export class GraphBuilder {
  private readonly nodes: Pb[] = [];
  private count = 0;
  private readonly constants = new Map<string, GNode>();
  private last: string | undefined;
  readonly inputs: GNode[] = [];

  /**
   * `serial`: every op also waits for the op written before it (a control edge), so TensorFlow's executor
   * never has two ready ops and runs the whole graph in one thread. For graphs of many tiny ops (one
   * decoding step) that beats handing ops between threads; big ops still use all cores inside.
   */
  constructor(private readonly options: { serial?: boolean } = {}) {}

  /** Switches serial order (see the constructor) on or off for the ops added next; each switch starts a new chain. */
  setSerial(serial: boolean): void {
    this.options.serial = serial;
    this.last = undefined;
  }

  private name(op: string): string {
    return `${op.toLowerCase()}_${++this.count}`;
  }

  /** Adds a node; returns its first `outputs` outputs. */
  raw(op: string, inputs: readonly GNode[], attrs: Record<string, Attr>, dtype: DType, outputs = 1, name = this.name(op)): GNode[] {
    const n = new Pb().str(1, name).str(2, op);
    for (const i of inputs) n.str(3, i.ref);
    if (this.options.serial && op !== 'Placeholder' && op !== 'Const' && op !== 'VariableV2') {
      if (this.last) n.str(3, `^${this.last}`);
      this.last = name;
    }
    for (const [k, v] of Object.entries(attrs)) n.msg(5, new Pb().str(1, k).msg(2, attrProto(v)));
    this.nodes.push(n);
    return Array.from({ length: outputs }, (_, i) => new GNode(name, dtype, i));
  }

  private op(op: string, inputs: readonly GNode[], attrs: Record<string, Attr> = {}, dtype: DType = inputs[0]!.dtype): GNode {
    return this.raw(op, inputs, { T: { type: inputs[0]!.dtype }, ...attrs }, dtype)[0]!;
  }

  placeholder(name: string, dtype: DType, shape: readonly number[] | null = null): GNode {
    const [p] = this.raw('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }, dtype, 1, name);
    this.inputs.push(p!);
    return p!;
  }

  /** A constant; equal small constants share one node. */
  constant(data: Float32Array | Int32Array, shape: readonly number[]): GNode {
    const dtype: DType = data instanceof Int32Array ? 'int32' : 'float32';
    const key = data.length <= 8 ? `${dtype}[${shape}]${Array.from(data)}` : undefined;
    const hit = key && this.constants.get(key);
    if (hit) return hit;
    const node = this.raw('Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, shape, data } } }, dtype)[0]!;
    if (key) this.constants.set(key, node);
    return node;
  }

  scalar(value: number, dtype: DType = 'float32'): GNode {
    return this.constant(dtype === 'int32' ? Int32Array.of(value) : Float32Array.of(value), []);
  }

  ints(values: readonly number[]): GNode {
    return this.constant(Int32Array.from(values), [values.length]);
  }

  private lift(a: Operand, like: GNode): GNode {
    return typeof a === 'number' ? this.scalar(a, like.dtype) : a;
  }

  private binary(op: string, a: Operand, b: Operand): GNode {
    const x = typeof a === 'number' ? this.lift(a, b as GNode) : a;
    return this.op(op, [x, this.lift(b, x)]);
  }

  add(a: Operand, b: Operand): GNode {
    return this.binary('AddV2', a, b);
  }
  sub(a: Operand, b: Operand): GNode {
    return this.binary('Sub', a, b);
  }
  mul(a: Operand, b: Operand): GNode {
    return this.binary('Mul', a, b);
  }
  div(a: Operand, b: Operand): GNode {
    return this.binary('RealDiv', a, b);
  }
  addN(xs: readonly GNode[]): GNode {
    return xs.length === 1 ? xs[0]! : this.op('AddN', xs, { N: { i: xs.length } });
  }
  square(x: GNode): GNode {
    return this.op('Square', [x]);
  }
  sqrt(x: GNode): GNode {
    return this.op('Sqrt', [x]);
  }
  rsqrt(x: GNode): GNode {
    return this.op('Rsqrt', [x]);
  }
  exp(x: GNode): GNode {
    return this.op('Exp', [x]);
  }
  log(x: GNode): GNode {
    return this.op('Log', [x]);
  }
  tanh(x: GNode): GNode {
    return this.op('Tanh', [x]);
  }
  sigmoid(x: GNode): GNode {
    return this.op('Sigmoid', [x]);
  }
  /** `x` with a new axis of size 1 at `axis`. */
  expandDims(x: GNode, axis: number): GNode {
    return this.op('ExpandDims', [x, this.scalar(axis, 'int32')], { Tdim: { type: 'int32' } });
  }
  /** x + b over the last axis (fuses with a preceding MatMul in TensorFlow's optimizer). */
  biasAdd(x: GNode, b: GNode): GNode {
    return this.op('BiasAdd', [x, b]);
  }
  /** Column sums of a matrix: the gradient of `biasAdd`'s bias. */
  biasAddGrad(dy: GNode): GNode {
    return this.op('BiasAddGrad', [dy]);
  }
  softmax(x: GNode): GNode {
    return this.op('Softmax', [x]);
  }
  /** float32 one-hot rows of `depth` (an int32 scalar) for int32 `indices` (a new last axis). */
  oneHot(indices: GNode, depth: GNode): GNode {
    return this.raw('OneHot', [indices, depth, this.scalar(1), this.scalar(0)], { T: { type: 'float32' }, TI: { type: 'int32' }, axis: { i: -1 } }, 'float32')[0]!;
  }
  /** `x` with zeros added before and after each axis: `paddings[i]` = [before, after] for axis i. */
  pad(x: GNode, paddings: readonly (readonly [number, number])[]): GNode {
    const p = this.constant(Int32Array.from(paddings.flat()), [paddings.length, 2]);
    return this.op('Pad', [x, p], { Tpaddings: { type: 'int32' } });
  }
  /** [.., m, k] x [.., k, n] with broadcast batch dimensions (BatchMatMulV2; plain MatMul for matrices). */
  matMul(a: GNode, b: GNode, transposeA = false, transposeB = false, rank = 2): GNode {
    if (rank === 2) return this.op('MatMul', [a, b], { transpose_a: { b: transposeA }, transpose_b: { b: transposeB } });
    return this.op('BatchMatMulV2', [a, b], { adj_x: { b: transposeA }, adj_y: { b: transposeB } });
  }
  private reduce(op: string, x: GNode, axes: readonly number[], keepDims: boolean): GNode {
    return this.op(op, [x, this.ints(axes)], { keep_dims: { b: keepDims }, Tidx: { type: 'int32' } });
  }
  max(x: GNode, axes: readonly number[], keepDims = false): GNode {
    return this.reduce('Max', x, axes, keepDims);
  }
  sum(x: GNode, axes: readonly number[], keepDims = false): GNode {
    return this.reduce('Sum', x, axes, keepDims);
  }
  mean(x: GNode, axes: readonly number[], keepDims = false): GNode {
    return this.reduce('Mean', x, axes, keepDims);
  }
  /** Reshape to `shape`: numbers and (int32 scalar) nodes, at most one -1; or an int32 vector node. */
  reshape(x: GNode, shape: readonly Operand[] | GNode): GNode {
    const target = shape instanceof GNode ? shape : shape.every((s) => typeof s === 'number') ? this.ints(shape as number[]) : this.pack(shape.map((s) => (typeof s === 'number' ? this.scalar(s, 'int32') : s)));
    return this.op('Reshape', [x, target], { Tshape: { type: 'int32' } });
  }
  transpose(x: GNode, perm: readonly number[]): GNode {
    return this.op('Transpose', [x, this.ints(perm)], { Tperm: { type: 'int32' } });
  }
  /** Entries of `params` at int32 `indices` along `axis` (rows by default); the first `batchDims` axes are shared. */
  gather(params: GNode, indices: GNode, axis = 0, batchDims = 0): GNode {
    return this.raw('GatherV2', [params, indices, this.scalar(axis, 'int32')], { Tparams: { type: params.dtype }, Tindices: { type: 'int32' }, Taxis: { type: 'int32' }, batch_dims: { i: batchDims } }, params.dtype)[0]!;
  }
  /** Sums rows of `data` into `numSegments` rows by `ids` (the gradient of `gather`). */
  segmentSum(data: GNode, ids: GNode, numSegments: number): GNode {
    return this.op('UnsortedSegmentSum', [data, ids, this.scalar(numSegments, 'int32')], { Tindices: { type: 'int32' }, Tnumsegments: { type: 'int32' } });
  }
  concat(xs: readonly GNode[], axis: number): GNode {
    if (xs.length === 1) return xs[0]!;
    return this.raw('ConcatV2', [...xs, this.scalar(axis, 'int32')], { N: { i: xs.length }, T: { type: xs[0]!.dtype }, Tidx: { type: 'int32' } }, xs[0]!.dtype)[0]!;
  }
  /** Splits `x` along `axis` into pieces of the given sizes. */
  split(x: GNode, sizes: readonly number[], axis: number): GNode[] {
    return this.raw('SplitV', [x, this.ints(sizes), this.scalar(axis, 'int32')], { num_split: { i: sizes.length }, T: { type: x.dtype }, Tlen: { type: 'int32' } }, x.dtype, sizes.length);
  }
  pack(xs: readonly GNode[], axis = 0): GNode {
    return this.op('Pack', xs, { N: { i: xs.length }, axis: { i: axis } });
  }
  /** The int32 scalars of a tensor's dynamic shape. */
  dims(x: GNode, rank: number): GNode[] {
    const shape = this.raw('Shape', [x], { T: { type: x.dtype }, out_type: { type: 'int32' } }, 'int32')[0]!;
    return this.unpack(shape, rank, 0);
  }
  /** The `num` slices of `x` along `axis` (tf.unstack). */
  unpack(x: GNode, num: number, axis: number): GNode[] {
    return this.raw('Unpack', [x], { T: { type: x.dtype }, num: { i: num }, axis: { i: axis } }, x.dtype, num);
  }
  /** `x[begin : begin + size]` per dimension; begin and size are int32 vectors. */
  slice(x: GNode, begin: GNode, size: GNode): GNode {
    return this.op('Slice', [x, begin, size], { Index: { type: 'int32' } });
  }
  /** A float32 tensor of `shape` (int32 vector) filled with `value`. */
  fill(shape: GNode, value: number): GNode {
    return this.raw('Fill', [shape, this.scalar(value)], { T: { type: 'float32' }, index_type: { type: 'int32' } }, 'float32')[0]!;
  }
  /**
   * A float32 variable that lives in the session between calls (a reference variable, so that reads alias
   * its buffer and `scatterUpdate` writes in place); `assign` gives it its shape and first value.
   */
  variable(name: string): GNode {
    return this.raw('VariableV2', [], { shape: { shape: null }, dtype: { type: 'float32' } }, 'float32', 1, name)[0]!;
  }
  /** Sets variable `ref` to `value` (any shape); returns the variable. */
  assign(ref: GNode, value: GNode): GNode {
    return this.raw('Assign', [ref, value], { T: { type: 'float32' }, validate_shape: { b: false }, use_locking: { b: false } }, 'float32')[0]!;
  }
  /** Writes `updates` into the rows `indices` (int32 vector) of variable `ref`, in place; returns the variable. */
  scatterUpdate(ref: GNode, indices: GNode, updates: GNode): GNode {
    return this.raw('ScatterUpdate', [ref, indices, updates], { T: { type: 'float32' }, Tindices: { type: 'int32' }, use_locking: { b: false } }, 'float32')[0]!;
  }
  range(start: Operand, limit: Operand): GNode {
    const s = this.lift(start, { dtype: 'int32' } as GNode);
    return this.raw('Range', [s, this.lift(limit, s), this.scalar(1, 'int32')], { Tidx: { type: 'int32' } }, 'int32')[0]!;
  }

  /** The graph as a SavedModel (tag "serve"; no saved variables or signatures: `variable`s get their values from `assign` at run time). */
  serialize(): Uint8Array {
    const graph = new Pb();
    for (const n of this.nodes) graph.msg(1, n);
    graph.msg(4, new Pb().int(1, 1000));
    const meta = new Pb().msg(1, new Pb().str(4, 'serve')).msg(2, graph);
    return new Pb().int(1, 1).msg(2, meta).done();
  }
}
