/**
 * Model references: what a user may type where quant wants a model.
 *
 * - `hf:owner/repo/path/to/file.gguf` — one file of a Hugging Face repository;
 * - `hf:owner/repo:Q4_K_M` — the file of the repository whose name carries that quantization tag;
 * - `hf:owner/repo` — the Q4_K_M file, or the repository's only GGUF;
 * - any of these with a revision: `hf:owner/repo@rev/…`, or `@rev` at the end (`hf:owner/repo:Q8_0@v2`);
 * - `https://…/owner/repo/resolve/rev/path` on the Hub endpoint — the same as `hf:owner/repo/path@rev`;
 * - another `http(s)://` URL — that file;
 * - a name from the alias registry (`phi3.5`);
 * - otherwise a local path.
 */
import { existsSync } from 'node:fs';
import { HubError } from './errors.js';
import type { ModelRegistry } from './registry.js';

export interface HfReference {
  kind: 'hf';
  /** `owner/repo`. */
  repo: string;
  /** Branch, tag or commit (default `main`). */
  revision: string;
  /** A file path in the repository. */
  file?: string;
  /** A quantization tag (`Q4_K_M`); neither file nor quant: the default choice. */
  quant?: string;
  /** The registry name this reference came from. */
  alias?: string;
}

export interface UrlReference {
  kind: 'url';
  url: string;
}

export interface PathReference {
  kind: 'path';
  path: string;
}

export type ModelReference = HfReference | UrlReference | PathReference;

export const DEFAULT_REVISION = 'main';
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

const NAME = '[A-Za-z0-9][A-Za-z0-9._-]*';
const HF_RE = new RegExp(
  `^(${NAME})/(${NAME})(?:@([^/:@]+))?(?:/([^@]+)|:([A-Za-z0-9][A-Za-z0-9._-]*))?(?:@(.+))?$`,
);

function checkFilePath(path: string, input: string): void {
  if (path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new HubError('INVALID_REFERENCE', `${input}: "${path}" is not a file path inside a repository.`, {
      reference: input,
    });
}

/** Parses `hf:owner/repo[@rev][/path | :QUANT][@rev]`. */
export function parseHfReference(input: string): HfReference {
  const body = input.replace(/^hf:/, '');
  const m = HF_RE.exec(body);
  if (!m)
    throw new HubError(
      'INVALID_REFERENCE',
      `"${input}" is not a Hugging Face reference; write hf:owner/repo:Q4_K_M, hf:owner/repo/file.gguf or hf:owner/repo (optionally with @revision).`,
      { reference: input },
    );
  const [, owner, name, rev1, file, quant, rev2] = m;
  if (rev1 !== undefined && rev2 !== undefined)
    throw new HubError('INVALID_REFERENCE', `${input}: give the revision once (@${rev1} or @${rev2}).`, {
      reference: input,
    });
  const ref: HfReference = {
    kind: 'hf',
    repo: `${owner}/${name}`,
    revision: rev1 ?? rev2 ?? DEFAULT_REVISION,
  };
  if (file !== undefined) {
    checkFilePath(file, input);
    ref.file = file;
  }
  if (quant !== undefined) ref.quant = quant;
  return ref;
}

/** `{endpoint}/owner/repo/resolve|blob/rev/path` → an hf: reference; other URLs → undefined. */
export function hfReferenceFromUrl(url: string, endpoint: string): HfReference | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const hosts = new Set([new URL(endpoint).origin, new URL(DEFAULT_ENDPOINT).origin]);
  if (!hosts.has(u.origin)) return undefined;
  const base = new URL(endpoint).origin === u.origin ? new URL(endpoint).pathname.replace(/\/$/, '') : '';
  const rest = u.pathname.slice(base.length);
  const m = new RegExp(`^/(${NAME})/(${NAME})/(?:resolve|blob)/([^/]+)/(.+)$`).exec(rest);
  if (!m) return undefined;
  const file = m[4]!.split('/').map(decodeURIComponent).join('/');
  checkFilePath(file, url);
  return { kind: 'hf', repo: `${m[1]}/${m[2]}`, revision: decodeURIComponent(m[3]!), file };
}

/** The canonical text of an hf: reference (`@revision` only when not main). */
export function formatHfReference(ref: Pick<HfReference, 'repo' | 'revision' | 'file' | 'quant'>): string {
  const at = ref.revision === DEFAULT_REVISION ? '' : `@${ref.revision}`;
  if (ref.file !== undefined) return `hf:${ref.repo}/${ref.file}${at}`;
  if (ref.quant !== undefined) return `hf:${ref.repo}:${ref.quant}${at}`;
  return `hf:${ref.repo}${at}`;
}

export interface ParseOptions {
  registry: ModelRegistry;
  /** The Hub endpoint (to recognise its resolve URLs). */
  endpoint?: string;
  /** Does a local file exist at this path? (default: fs.existsSync) */
  exists?: (path: string) => boolean;
}

/**
 * What `input` refers to: an `hf:` reference, a URL, an existing local path, or a registry name
 * (in that order: a local file shadows an alias of the same name). Anything else is an
 * UNKNOWN_MODEL error that lists the registry's names.
 */
export function parseModelReference(input: string, o: ParseOptions): ModelReference {
  const text = input.trim();
  if (text === '') throw new HubError('INVALID_REFERENCE', 'the model reference is empty.');
  if (/^hf:/i.test(text)) return parseHfReference(text.replace(/^hf:/i, 'hf:'));
  if (/^https?:\/\//i.test(text)) {
    return hfReferenceFromUrl(text, o.endpoint ?? DEFAULT_ENDPOINT) ?? { kind: 'url', url: text };
  }
  if (/^file:\/\//i.test(text)) return { kind: 'path', path: new URL(text).pathname };
  if ((o.exists ?? existsSync)(text)) return { kind: 'path', path: text };
  const entry = o.registry.lookup(text);
  if (entry) return { ...parseHfReference(entry.ref), alias: entry.name };
  const looksLikePath = /[/\\]|\.gguf$/i.test(text);
  throw new HubError(
    'UNKNOWN_MODEL',
    looksLikePath
      ? `model file not found: ${text}`
      : `"${text}" is neither a file nor a known model name. Known names: ${o.registry.names().join(', ')}. ` +
          'Or give a Hugging Face reference such as hf:owner/repo:Q4_K_M.',
    { reference: text },
  );
}
