// Generated from the Rust core (crate/src/contract.rs) by `npm run contract`; do not edit.
// `cargo test` fails when this file and the core's declarations disagree.

/** `cells::Cell`: which recurrent cell. */
export const Cell = { RnnTanh: 0, RnnRelu: 1, Lstm: 2, Gru: 3, GruResetBefore: 4 } as const;
export type Cell = (typeof Cell)[keyof typeof Cell];

/** `Cell::gates`: gate blocks `G` of each cell, indexed by its code. */
export const CELL_GATES: readonly number[] = [1, 1, 4, 3, 3];

/** `cells::GateAct`: the gate activation of LSTM i, f, o and GRU r, z. */
export const GateAct = { Sigmoid: 0, HardSigmoid02: 1, HardSigmoidSixth: 2 } as const;
export type GateAct = (typeof GateAct)[keyof typeof GateAct];

/** `cells::flags`: bits of a recurrent call's `flags` word (the gate activation at `GATE_SHIFT`). */
export const CallFlag = { BATCH_FIRST: 1, TRAINING: 2, REPACK: 4, REVERSE: 8, GATE_SHIFT: 4 } as const;
export type CallFlag = (typeof CallFlag)[keyof typeof CallFlag];

/** `dense::Act`: a dense layer's activation. */
export const DenseAct = { Linear: 0, Relu: 1, Tanh: 2, Sigmoid: 3, Softmax: 4 } as const;
export type DenseAct = (typeof DenseAct)[keyof typeof DenseAct];

/** `elementwise::Merge`: an element-wise merge of same-shaped tensors. */
export const Merge = { Add: 0, Subtract: 1, Multiply: 2, Average: 3, Maximum: 4, Minimum: 5 } as const;
export type Merge = (typeof Merge)[keyof typeof Merge];

/** `attention::Score`: how attention scores queries against keys. */
export const AttnScore = { Dot: 0, Additive: 1 } as const;
export type AttnScore = (typeof AttnScore)[keyof typeof AttnScore];

/** `attention::FLAGS`: bits of an attention call's `flags` word. */
export const AttnFlag = { CAUSAL: 1, PROJECT: 2 } as const;
export type AttnFlag = (typeof AttnFlag)[keyof typeof AttnFlag];

/** `attention::Attn`: an attention call's u32 words, in order. */
export const ATTN_FIELDS = ['batch', 'q_steps', 'kv_steps', 'q_features', 'k_features', 'v_features', 'heads', 'key_dim', 'value_dim', 'out_features', 'score', 'flags', 'factor', 'q', 'k', 'v', 'q_lengths', 'kv_lengths', 'wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo', 'scale', 'qp', 'kp', 'vp', 'ctx', 'probs', 'out'] as const;

/** `attention::AttnGrads`: an attention backward's gradient words, in order. */
export const ATTN_GRADS_FIELDS = ['dout', 'dq', 'dk', 'dv', 'dwq', 'dbq', 'dwk', 'dbk', 'dwv', 'dbv', 'dwo', 'dbo', 'dscale', 'dqp', 'dkp', 'dvp', 'dctx', 'dprobs', 'dweights', 'dparts'] as const;

/** `conv::ConvDims`: a convolution's u32 geometry block, in order. */
export const CONV_DIMS_FIELDS = ['batch', 'steps', 'in_channels', 'out_channels', 'kernel', 'stride', 'dilation', 'pad_left', 'groups', 'out_steps'] as const;

/** `pooling::Pool`: what a pooling layer takes from each window. */
export const Pool = { Max: 0, Average: 1 } as const;
export type Pool = (typeof Pool)[keyof typeof Pool];

/** `pooling::PoolDims`: a windowed pooling's u32 geometry block, in order. */
export const POOL_DIMS_FIELDS = ['batch', 'steps', 'channels', 'pool', 'stride', 'pad_left', 'out_steps'] as const;

/** `loss::Loss`: the loss kernels. */
export const Loss = { Mse: 0, Mae: 1, Bce: 2, BceLogits: 3, Cce: 4, CceLogits: 5, SparseCce: 6, SparseCceLogits: 7, DistillLogits: 8 } as const;
export type Loss = (typeof Loss)[keyof typeof Loss];

/** `optim::Kind`: the optimizers. */
export const Optimizer = { Sgd: 0, Adam: 1, AdamW: 2, RmsProp: 3 } as const;
export type Optimizer = (typeof Optimizer)[keyof typeof Optimizer];

/** `optim::Hyper`: the optimizer's f32 hyper-parameter block, in order. */
export const HYPER_FIELDS = ['lr', 'beta1', 'beta2', 'eps', 'momentum', 'rho', 'weight_decay', 'step', 'nesterov', 'centered', 'clip_norm', 'clip_value'] as const;

/** `status::Status`: what every kernel call returns. */
export const Status = { Ok: 0, BadKind: 1, Overflow: 2, OutOfBounds: 3, Overlap: 4, OutOfRange: 5, Missing: 6, Misaligned: 7, BadShape: 8 } as const;
export type Status = (typeof Status)[keyof typeof Status];

/** `Status::message`, by code. */
export const STATUS_MESSAGES: Readonly<Record<number, string>> = { 0: 'ok', 1: 'invalid cell kind or dimensions', 2: 'a size computation overflowed', 3: 'a region lies outside wasm memory', 4: 'an output region overlaps another region', 5: 'a sequence length is outside [0, T]', 6: 'a required region is missing', 7: 'a region is not 4-byte aligned', 8: 'an inconsistent convolution, pooling or attention geometry' };

/** `program::RECORD`: words per stream-program record (the op code first). */
export const RECORD_WORDS = 16;

/** `program::Op`: a stream-program record's op code (word 0). */
export const Op = { Embed: 1, Dense: 2, Recur: 3, LNorm: 4, RecurQ8: 5, DenseQ8: 6, Attend: 7, Rows: 8, Merge: 9 } as const;
export type Op = (typeof Op)[keyof typeof Op];

/** `program::RECORDS`: each record's fields after the op code, in word order. */
export const RECORD_FIELDS = {
  Embed: ['ids', 'table', 'v', 'e', 'out'],
  Dense: ['inp', 'w', 'bias', 'i', 'o', 'act', 'out'],
  Recur: ['cell', 'gate', 'inp', 'i', 'h', 'packed', 'b_ih', 'b_hh', 'state_h', 'state_c', 'xh', 'z', 'out'],
  LNorm: ['inp', 'gamma', 'beta', 'n', 'eps', 'stats', 'out'],
  RecurQ8: ['cell', 'gate', 'inp', 'i', 'h', 'desc', 'b_ih', 'b_hh', 'state_h', 'state_c', 'rh', 'z', 'out', 'zh', 'a16'],
  DenseQ8: ['inp', 'qw', 'sw', 'bias', 'i', 'o', 'act', 'out', 'a16'],
  Attend: ['call'],
  Rows: ['len', 'src', 'src_stride', 'dst', 'dst_stride'],
  Merge: ['op', 'k', 'n', 'x0', 'x1', 'x2', 'x3', 'out'],
} as const;

/** `program::Q8Desc`: the words an int8 recurrent record's `desc` points at. */
export const Q8_DESC_FIELDS = ['qx', 'sx', 'qh', 'sh', 'qn', 'sn'] as const;
