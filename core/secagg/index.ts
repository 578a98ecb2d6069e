// SecAgg+ (Bonawitz et al. 2017; Bell et al. 2020) as transport-agnostic state machines.
export { createSecAggAgent, type AgentStage, type SecAggAgent, type SecAggAgentOptions } from './agent';
export {
  resolveSecAggConfig,
  recommendedDegree,
  resolveGraphParameters,
  toleratedDropoutFraction,
  type SecAggConfig,
  type SecAggSettings,
} from './config';
export { cryptoRandom, decodeUint32, encodeUint32, seededRandomSource, type RandomSource } from './crypto';
export { neighbourGraph } from './graph';
export * from './messages';
export { quantizationErrorBound } from './quantize';
export { createSecAggServer, type ReceiveOutcome, type SecAggResult, type SecAggServer, type ServerStage } from './server';
