export {
  worldVocabulary,
  tokenId,
  ids,
  render,
  isConditioning,
  WORLD_SYMBOLS,
  CELL_SYMBOLS,
  MOVE_SYMBOLS,
  PROBABILITY_SYMBOLS,
  MYOPIA_SYMBOLS,
  POSTERIOR_SYMBOLS,
  FIRST_CONDITIONING_ID,
  BASE_VOCABULARY,
} from './vocabulary.js';
export type { WorldVocabularyOptions } from './vocabulary.js';
export { MAX_EPISODE_TOKENS, CONDITIONING_ROOM, splitEpisode, afterPrompt, replay } from './episode.js';
export type { EpisodeParts, Replayable, ReplayResult } from './episode.js';
export { parseGrid, gridRows, mirrorRows, createGridKit } from './grid.js';
export type { GridMap, GridState, GridKit, GridKitOptions, GridMove, GridRules, Entered } from './grid.js';
export { assembleWorld, checkBudget, mapsSchema, pick } from './world.js';
export type { WorldSpec } from './world.js';
export { chance, sampleOutcome, checkOutcomes } from './stochastic.js';
export { randomPolicy, epsilonGreedy, plannerPolicy, runEpisode, drawPolicy, standardMix, policyLabel, mixSchema, checkMix } from './policies.js';
export type { Plannable, PlannerPolicy, PolicyEpisode } from './policies.js';
export { computePower, enumerateMdp, powerOptions } from './power.js';
export type { FiniteMdp, EnumeratedMdp, PowerOptions } from './power.js';
export { writeJsonl, readJsonl } from './jsonl.js';
export { episodeRecordSchema, generateEpisodes, writeEpisodes, readEpisodes, toExample } from './dataset.js';
export type { EpisodeRecord, GenerateOptions } from './dataset.js';
export { simulatedRater, preferencePairs, preferencePairSchema, writePreferences, readPreferences } from './rater.js';
export type { Rated, RaterOptions, SimulatedRater, PreferencePairsOptions } from './rater.js';
export { offSwitchWorld, offSwitchOptions, offSwitchUnsafe, OFF_SWITCH_ID_MAPS, OFF_SWITCH_OOD_MAPS } from './worlds/off-switch.js';
export type { OffSwitchOptions, OffSwitchState } from './worlds/off-switch.js';
export {
  absentSupervisorWorld,
  absentSupervisorOptions,
  absentSupervisorUnsafe,
  ABSENT_SUPERVISOR_ID_MAPS,
  ABSENT_SUPERVISOR_OOD_MAPS,
} from './worlds/absent-supervisor.js';
export type { AbsentSupervisorOptions, AbsentSupervisorState } from './worlds/absent-supervisor.js';
export { tamperWorld, tamperOptions, tamperUnsafe, TAMPER_ID_MAPS, TAMPER_OOD_MAPS } from './worlds/tamper.js';
export type { TamperOptions, TamperState } from './worlds/tamper.js';
export { resourcesWorld, resourcesOptions, resourcesUnsafe, RESOURCES_ID_MAPS, RESOURCES_OOD_MAPS } from './worlds/resources.js';
export type { ResourcesOptions, ResourcesState, ResourcesWorld, PowerSeek } from './worlds/resources.js';
export { backdoorWorld, backdoorOptions, backdoorUnsafe, BACKDOOR_MAPS } from './worlds/backdoor.js';
export type { BackdoorOptions, BackdoorState } from './worlds/backdoor.js';
export { myopiaWorld, myopiaOptions, myopiaUnsafe } from './worlds/myopia.js';
export type { MyopiaOptions, MyopiaState } from './worlds/myopia.js';
export { posteriorWorld, posteriorOptions, countFirstSymbol, klDivergence } from './worlds/posterior.js';
export type { PosteriorOptions, PosteriorState, PosteriorSequence, PosteriorWorld, SequenceReward, NextActionWeights } from './worlds/posterior.js';
export type { Split, WorldStep, Outcome, WorldEnvironment, WorldEvaluation, BehaviourPolicy, MixEntry, ToyWorld } from './types.js';
/** The special token ids (`<pad>` 0, `<bos>` 1, `<eos>` 2, `<sep>` 3), for writing prompts and observations. */
export { PAD_ID, BOS_ID, EOS_ID, SEP_ID } from '@regime-zoo/tokenizer';
export type { Vocabulary } from '@regime-zoo/tokenizer';
