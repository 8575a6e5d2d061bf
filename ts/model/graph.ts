/**
 * A model's graph: the nodes between its input and output tensors in
 * topological order, each with its own `LayerCall` (output buffers and tape),
 * run forward in order and backward in reverse — one core call per node and
 * direction. A tensor read by several nodes gets the sum of their gradients
 * (accumulated in the core); `Sequential` is the chain case.
 */
import { ValueError } from '../errors.js';
import { type Activation, type Layer, LayerCall, type LayerNode, type StepInfo, type SymbolicTensor } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';

export class Graph {
  /** The nodes between the inputs and the outputs, each after every node it reads from. */
  readonly nodes: readonly LayerNode[];
  /**
   * Each layer once (a shared layer has several nodes), in Keras's order: by
   * depth (the longest path from any of the layer's nodes to an output)
   * descending, ties in the order a walk back from the outputs meets them —
   * so `model.layers[i]` names the same layer as in Keras's `model.layers`.
   */
  readonly layers: readonly Layer[];
  private readonly calls: Map<LayerNode, LayerCall>;
  /** How many nodes read each tensor (plus one for each model output it is). */
  private readonly readers = new Map<SymbolicTensor, number>();
  /** Elements of each tensor in the last forward (its gradient's size). */
  private readonly sizes = new Map<SymbolicTensor, number>();

  constructor(
    readonly inputs: readonly SymbolicTensor[],
    readonly outputs: readonly SymbolicTensor[],
  ) {
    const seen = new Set<LayerNode>();
    const order: LayerNode[] = [];
    const reached = new Set<SymbolicTensor>();
    const met = new Map<Layer, number>();
    const visit = (t: SymbolicTensor, path: Set<LayerNode>) => {
      reached.add(t);
      const n = t.node;
      if (!n || seen.has(n)) return;
      if (!met.has(n.layer)) met.set(n.layer, met.size);
      if (path.has(n)) throw new ValueError(`model: the graph has a cycle through ${n.layer.name}`);
      path.add(n);
      for (const x of n.inputs) visit(x, path);
      path.delete(n);
      seen.add(n);
      order.push(n);
    };
    for (const t of outputs) visit(t, new Set());
    for (const t of reached) {
      if (!t.node && !inputs.includes(t)) {
        throw new ValueError(
          `model: the outputs depend on ${t.name}, which is not among the model's inputs (${inputs.map((i) => i.name).join(', ')})`,
        );
      }
    }
    for (const t of inputs) {
      if (!reached.has(t)) throw new ValueError(`model: input ${t.name} does not reach any output`);
    }
    this.nodes = order;
    // Depths in reverse topological order: a node is one deeper than its deepest reader.
    const depth = new Map<LayerNode, number>();
    const layerDepth = new Map<Layer, number>();
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i];
      const d = depth.get(n) ?? 0;
      layerDepth.set(n.layer, Math.max(layerDepth.get(n.layer) ?? 0, d));
      for (const x of n.inputs) if (x.node) depth.set(x.node, Math.max(depth.get(x.node) ?? 0, d + 1));
    }
    this.layers = [...layerDepth.keys()].sort(
      (a, b) => (layerDepth.get(b) ?? 0) - (layerDepth.get(a) ?? 0) || (met.get(a) ?? 0) - (met.get(b) ?? 0),
    );
    this.calls = new Map(order.map((n) => [n, new LayerCall()]));
    for (const n of order) for (const x of n.inputs) this.readers.set(x, (this.readers.get(x) ?? 0) + 1);
    for (const t of outputs) this.readers.set(t, (this.readers.get(t) ?? 0) + 1);
  }

  /** How many places read `t` (nodes, and the model's outputs). */
  readersOf(t: SymbolicTensor): number {
    return this.readers.get(t) ?? 0;
  }

  /** The outputs for `xs` (one activation per input, in order). */
  forward(xs: Activation[], step: StepInfo): Activation[] {
    const value = new Map<SymbolicTensor, Activation>();
    const set = (t: SymbolicTensor, a: Activation) => {
      value.set(t, a);
      this.sizes.set(
        t,
        a.shape.reduce((p, d) => p * d, 1),
      );
    };
    for (const [i, t] of this.inputs.entries()) set(t, xs[i]);
    for (const n of this.nodes) {
      const ys = n.layer.forwardAll(
        n.inputs.map((t) => value.get(t)!),
        step,
        this.calls.get(n)!,
      );
      for (const [i, t] of n.outputs.entries()) set(t, ys[i]);
    }
    return this.outputs.map((t) => value.get(t)!);
  }

  /**
   * Backward from the gradients of the outputs (`dys[i]` of `outputs[i]`,
   * which the layers may overwrite; null for an output without a loss):
   * parameter gradients accumulate; the model's inputs get none.
   */
  backward(dys: (WasmArray | null)[]): void {
    const { core } = runtime();
    const grad = new Map<SymbolicTensor, WasmArray>();
    // A tensor read twice gets the sum: the first gradient's buffer (a
    // finished node's dx, or a loss gradient) takes the later ones.
    const add = (t: SymbolicTensor, g: WasmArray) => {
      const have = grad.get(t);
      if (!have) grad.set(t, g);
      else if (have !== g) checkStatus('gradient sum', core.axpy(this.sizes.get(t)!, 1, g.ptr, have.ptr));
    };
    for (const [i, t] of this.outputs.entries()) {
      const d = dys[i];
      if (d) add(t, d);
    }
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const node = this.nodes[k];
      const call = this.calls.get(node)!;
      const dOut = node.outputs.map((t) => grad.get(t) ?? null);
      const needDx = node.inputs.map((t) => t.node !== null);
      const dIn = node.layer.backwardAll(dOut, needDx, call);
      node.inputs.forEach((t, i) => {
        const d = dIn[i];
        if (d && needDx[i]) add(t, d);
      });
    }
  }

  /** Free every node's buffers. */
  dispose(): void {
    for (const c of this.calls.values()) c.dispose();
  }
}
