/**
 * recurrent-wasm: recurrent neural networks for JavaScript and TypeScript on a
 * Rust → WebAssembly SIMD core.
 */
export { init, isInitialized, setThreads, type InitOptions, type RuntimeInfo, type SimdChoice } from './runtime/init.js';
export { hasRelaxedSimd, hasSimd128 } from './runtime/features.js';
export { RecurrentWasmError, ShapeError, ValueError, InitError, KernelError, FormatError } from './errors.js';
export { matmul } from './ops/gemm.js';
export {
  RecurrentKernel,
  type CellType,
  type RecurrentConfig,
  type ForwardInput,
  type ForwardOutput,
  type BackwardInput,
  type BackwardOutput,
  type NamedTensor,
} from './ops/recurrent.js';
export { Random } from './util/random.js';
export { memoryStats } from './runtime/stats.js';
export { Tensor, tensor, type DType, type NestedArray, type TensorLike } from './tensor.js';
export {
  layers,
  Layer,
  AdditiveAttention,
  Attention,
  Concatenate,
  Conv1d,
  Dense,
  Dropout,
  Embedding,
  GlobalPooling1d,
  LayerNormalization,
  Masking,
  Merge,
  MultiHeadAttention,
  Pooling1d,
  Recurrent,
  RepeatVector,
  TimeDistributed,
  LastStep,
  input,
  SymbolicTensor,
} from './layers/index.js';
export type {
  Shape,
  Regularizer,
  DenseArgs,
  DropoutArgs,
  EmbeddingArgs,
  LayerNormArgs,
  RecurrentArgs,
  MergeMode,
  BidirectionalArgs,
  AdditiveAttentionArgs,
  AttentionArgs,
  AttentionCallArgs,
  ConcatenateArgs,
  Conv1dArgs,
  ConvActivation,
  ConvPadding,
  MaskingArgs,
  MergeArgs,
  MultiHeadAttentionArgs,
  Pooling1dArgs,
  RepeatVectorArgs,
  TimeDistributedArgs,
} from './layers/index.js';
export { Sequential } from './model/sequential.js';
export { Model, model, type ModelArgs, type CompileArgs, type FitArgs, type History, type Tensors, type PerOutput } from './model/model.js';
export { optimizers, schedules, type Optimizer, type OptimizerLike, type Schedule } from './model/optimizers.js';
export { callbacks, EarlyStopping, type Callback, type Logs } from './model/callbacks.js';
export type { LossName } from './model/losses.js';
export type { MetricName } from './model/metrics.js';
export type { Initializer, InitializerName } from './layers/initializers.js';
export { CharTokenizer, WordTokenizer, type Tokenizer } from './text/tokenizer.js';
export { loadModel } from './model/load.js';
export type { SaveOptions } from './model/model-file.js';
export type { ModelConfig } from './model/config.js';
export { saveModelFile, loadModelFile } from './io/files.js';
export { readSafetensors, writeSafetensors, toFloat32, type Safetensors, type SafeTensor, type ReadLimits } from './format/safetensors.js';
export { importPyTorch, type PyTorchSpec, type PyTorchLayerSpec } from './io/pytorch.js';
export { importTfjs, type TfjsModelJson } from './io/tfjs.js';
export { importOnnx, OnnxModel, type OnnxImportOptions, type OnnxValueInfo } from './io/onnx/import.js';
export { Session, type SessionOptions, type SessionState } from './model/session.js';
export { decode, type DecodeOptions, type DecodeResult } from './model/decode.js';
export { distill, type DistillOptions } from './model/distill.js';
export { prune, Pruner, type PruneOptions, type PruneSchedule } from './model/prune.js';
export { quantize, loadQuantizedModel, QuantizedModel, type QuantizeOptions, type QuantDtype } from './model/quantize.js';
export { generate, generateText, type GenerateOptions } from './text/generate.js';
export { ModelWorker, predictParallel, type FitProgress } from './worker/client.js';
export { serveModelWorker } from './worker/serve.js';
