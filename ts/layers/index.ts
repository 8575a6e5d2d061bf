/** The `layers` namespace: Keras-style factories. */
import { ValueError } from '../errors.js';
import { Dense, type DenseArgs } from './dense.js';
import { Dropout, type DropoutArgs } from './dropout.js';
import { Embedding, type EmbeddingArgs } from './embedding.js';
import { LayerNormalization, type LayerNormArgs } from './layer-norm.js';
import { LastStep } from './last-step.js';
import { Recurrent, type MergeMode, type RecurrentArgs } from './recurrent.js';

export { Layer, type Shape, type Activation, type LayerArgs, type Regularizer } from './base.js';
export { Dense, Dropout, Embedding, LayerNormalization, Recurrent, LastStep };
export type { DenseArgs, DropoutArgs, EmbeddingArgs, LayerNormArgs, RecurrentArgs, MergeMode };

export interface BidirectionalArgs {
  /** The recurrent layer to run in both directions (its config is reused). */
  layer: Recurrent;
  mergeMode?: MergeMode;
  name?: string;
  inputShape?: (number | null)[];
}

export const layers = {
  dense: (args: DenseArgs) => new Dense(args),
  dropout: (args: DropoutArgs) => new Dropout(args),
  embedding: (args: EmbeddingArgs) => new Embedding(args),
  layerNormalization: (args: LayerNormArgs = {}) => new LayerNormalization(args),
  lastStep: (args: { name?: string } = {}) => new LastStep(args),
  simpleRNN: (args: RecurrentArgs) => new Recurrent('rnn', args),
  lstm: (args: RecurrentArgs) => new Recurrent('lstm', args),
  gru: (args: RecurrentArgs) => new Recurrent('gru', args),
  bidirectional: (args: BidirectionalArgs) => {
    if (!(args?.layer instanceof Recurrent) || args.layer.directions !== 1) {
      throw new ValueError('bidirectional: "layer" must be a simpleRNN, lstm or gru layer');
    }
    const inner = args.layer;
    return new Recurrent(
      inner.cell,
      { ...inner.args, inputShape: args.inputShape ?? inner.args.inputShape },
      { mergeMode: args.mergeMode ?? 'concat', name: args.name },
    );
  },
};
