export { decisionTransformer, decisionTransformerOptionsSchema } from './decision-transformer.js';
export type { DecisionTransformerOptions, DecisionTransformerRegime } from './decision-transformer.js';
