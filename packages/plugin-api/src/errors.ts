/**
 * Typed errors shared by the plugin registry, the plugins and the runtime's loader. Every error
 * has a stable `code` so callers can branch without parsing messages.
 */

export type PluginErrorCode =
  | 'INVALID_PLUGIN'
  | 'DUPLICATE_ARCHITECTURE'
  | 'UNKNOWN_ARCHITECTURE'
  | 'MISSING_METADATA'
  | 'INVALID_METADATA'
  | 'UNSUPPORTED_MODEL'
  | 'MISSING_TENSOR'
  | 'TENSOR_SHAPE_MISMATCH'
  | 'INVALID_OPTION';

/** Base class of every error @quant/plugin-api and architecture plugins throw. */
export class PluginError extends Error {
  readonly code: PluginErrorCode;
  constructor(code: PluginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PluginError';
    this.code = code;
  }
}

/** Where to read how to write an architecture plugin. */
export const PLUGIN_GUIDE =
  'see the plugin-authoring guide in the @quant/plugin-api README: implement ArchitecturePlugin and call registerArchitecture(plugin)';

/** `general.architecture` names no registered plugin. */
export class UnknownArchitectureError extends PluginError {
  readonly architecture: string;
  readonly registered: readonly string[];
  constructor(architecture: string, registered: readonly string[]) {
    super(
      'UNKNOWN_ARCHITECTURE',
      `No plugin is registered for architecture "${architecture}". Registered: ${
        registered.length ? registered.join(', ') : '(none)'
      }. Import a plugin package that registers it, or write one (${PLUGIN_GUIDE}).`,
    );
    this.name = 'UnknownArchitectureError';
    this.architecture = architecture;
    this.registered = registered;
  }
}

/** A metadata key a plugin needs is absent or has the wrong type/value. */
export class MetadataError extends PluginError {
  readonly key: string;
  constructor(code: 'MISSING_METADATA' | 'INVALID_METADATA', key: string, message: string) {
    super(code, message);
    this.name = 'MetadataError';
    this.key = key;
  }
}

/** A required tensor is missing or its shape differs from what the plugin expects. */
export class TensorSpecError extends PluginError {
  readonly tensor: string;
  readonly expected?: readonly number[];
  readonly found?: readonly number[];
  constructor(
    code: 'MISSING_TENSOR' | 'TENSOR_SHAPE_MISMATCH',
    tensor: string,
    message: string,
    expected?: readonly number[],
    found?: readonly number[],
  ) {
    super(code, message);
    this.name = 'TensorSpecError';
    this.tensor = tensor;
    if (expected) this.expected = expected;
    if (found) this.found = found;
  }
}
