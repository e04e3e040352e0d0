/**
 * The tiny SentencePiece vocabulary of the synthetic models: it lives in @quant/plugin-kit (plugin
 * authors' test models use it too); re-exported here for quant's own tests.
 */
export {
  BOS_ID,
  DEFAULT_PIECES,
  EOS_ID,
  FIRST_PIECE_ID,
  type SpmVocab,
  spmBaseVocab,
  spmVocabMetadata,
  syntheticPrompt,
  syntheticVocab,
  UNK_ID,
} from '@quant/plugin-kit';
