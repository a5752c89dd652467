export {
  SPECIAL_TOKENS,
  PAD_ID,
  BOS_ID,
  EOS_ID,
  SEP_ID,
  SYMBOL_PATTERN,
  NAMESPACE_PATTERN,
  VALUE_PATTERN,
  INDEX_VALUE_PATTERN,
  parseToken,
  conditioningToken,
} from './grammar.js';
export type { SpecialToken, ParsedToken } from './grammar.js';
export { Vocabulary, createVocabulary, VOCABULARY_FORMAT, VOCABULARY_FORMAT_VERSION } from './vocabulary.js';
export type {
  NamespaceKind,
  NamespaceSpec,
  VocabularyOptions,
  ExtendOptions,
  Episode,
  NamespaceInfo,
  VocabularyJSON,
} from './vocabulary.js';
export { ReturnBuckets, fitReturnBuckets, BUCKETS_FORMAT, BUCKETS_FORMAT_VERSION } from './buckets.js';
export type {
  BucketMethod,
  ReturnBucketsOptions,
  BucketAssignment,
  BucketRange,
  ReturnBucketsJSON,
  FittedReturnBuckets,
} from './buckets.js';
