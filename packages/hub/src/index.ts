/**
 * @quant/hub — models by name: `hf:owner/repo:Q4_K_M` and friends resolved against the Hugging Face
 * Hub, downloaded resumably (several connections, sha256-verified) into Hugging Face's own cache
 * layout, shared with Python; aliases from a registry; listing and removing cached models.
 */
export { COMMIT_RE, repoFolder } from './cache.js';
export { type DownloadProgress, type HubOptions, hubCacheDir } from './config.js';
export { HubError, type HubErrorCode } from './errors.js';
export {
  availableTags,
  isModelGGUF,
  type ModelFileSet,
  modelFileSets,
  quantTag,
  type SplitInfo,
  splitInfo,
} from './files.js';
export {
  type CachedModel,
  type CacheListing,
  listCachedModels,
  type PartialDownload,
  type RemoveResult,
  removeCachedModel,
} from './list.js';
export {
  DEFAULT_ENDPOINT,
  DEFAULT_REVISION,
  formatHfReference,
  type HfReference,
  type ModelReference,
  type PathReference,
  parseHfReference,
  parseModelReference,
  type UrlReference,
} from './reference.js';
export {
  BUILTIN_REGISTRY,
  loadRegistry,
  ModelRegistry,
  type RegistryEntry,
  type RegistryFile,
  type RegistrySource,
} from './registry.js';
export {
  chooseFileSet,
  DEFAULT_QUANT,
  pullModel,
  type ResolvedModel,
  resolveModel,
  urlCacheDir,
} from './resolve.js';

/** Does `input` need @quant/hub to become a local file (an `hf:` reference)? */
export function isHubReference(input: string): boolean {
  return /^hf:/i.test(input.trim());
}
