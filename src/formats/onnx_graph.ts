// onnx_graph: a small builder of ONNX graphs (nodes and initializers as plain onnx.proto3 objects,
// encoded by onnx_proto.ts), used by onnx.ts. Weights are float32 initializers stored as raw
// little-endian bytes; int64/float constants are shared by value.
import { assert } from '../util/errors.js';
import { DT, AT } from './onnx_proto.js';

/** W (rows, cols) -> W^T (cols, rows) */
export function transpose(W: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(W.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = W[r * cols + k];
  return out;
}

// ---- graph builder: nodes and initializers as plain onnx.proto3 objects ----

type Attr = number | number[] | { float: number };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1; // raw_data is little-endian

export class GraphBuilder {
  nodes: object[] = [];
  inits: object[] = [];
  bytes = 0;            // initializer bytes so far
  scope = '';           // prefix of node and weight names (the current layer)
  private n = 0;
  private consts = new Map<string, string>();

  constructor(readonly opset: number) {
    assert(LITTLE_ENDIAN, 'ONNX export needs a little-endian host (tensors are written as raw little-endian bytes)');
  }

  /** a float32 initializer, named scope + name */
  weight(name: string, data: Float32Array, dims: number[]): string {
    return this.init(this.scope + name, DT.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** an int64 constant (shape vectors, axes, indices), shared by value */
  ints(values: number[], dims = [values.length]): string {
    return this.constant(`i64:${dims}:${values}`, DT.INT64, dims, () => new Uint8Array(BigInt64Array.from(values, BigInt).buffer));
  }

  /** a float32 scalar constant, shared by value */
  scalar(v: number): string {
    return this.constant(`f32:${v}`, DT.FLOAT, [], () => new Uint8Array(Float32Array.of(v).buffer));
  }

  /** ReduceMean over the last axis, keepdims; axes moved from an attribute to an input in opset 18 */
  reduceMean(x: string): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.ints([-1])], { keepdims: 1 });
    return this.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
  }

  /** one node; returns its output's name (given, or generated) */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.opN(type, inputs, 1, attrs, output ? [output] : undefined)[0];
  }

  opN(type: string, inputs: string[], nOut: number, attrs: Record<string, Attr> = {}, outputs?: string[]): string[] {
    const name = `${this.scope}${type}_${this.n++}`;
    outputs ??= Array.from({ length: nOut }, (_, i) => (nOut === 1 ? name : `${name}:${i}`));
    const attribute = Object.entries(attrs).map(([key, v]) => {
      if (typeof v === 'number') return { name: key, type: AT.INT, i: v };
      if (Array.isArray(v)) return { name: key, type: AT.INTS, ints: v };
      return { name: key, type: AT.FLOAT, f: v.float };
    });
    this.nodes.push({ name, op_type: type, input: inputs, output: outputs, attribute });
    return outputs;
  }

  private constant(key: string, type: number, dims: number[], bytes: () => Uint8Array): string {
    let name = this.consts.get(key);
    if (!name) {
      name = this.init(`const_${this.consts.size}`, type, dims, bytes());
      this.consts.set(key, name);
    }
    return name;
  }

  private init(name: string, data_type: number, dims: number[], raw_data: Uint8Array): string {
    this.inits.push({ name, data_type, dims, raw_data });
    this.bytes += raw_data.byteLength;
    return name;
  }
}
