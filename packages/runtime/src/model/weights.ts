import type { F32Buffer, Weight } from '@quant/kernels';
import { type ModelWeights, type TensorRole, TensorSpecError } from '@quant/plugin-api';

/** The loaded tensors of a model, by name and role (see TensorRole). */
export class LoadedWeights implements ModelWeights {
  readonly matrices = new Map<string, Weight>();
  readonly vectors = new Map<string, F32Buffer>();
  readonly hosts = new Map<string, Float32Array>();

  has(name: string): boolean {
    return this.matrices.has(name) || this.vectors.has(name) || this.hosts.has(name);
  }

  private absent(name: string, role: TensorRole): never {
    const other = this.matrices.has(name)
      ? 'matrix'
      : this.vectors.has(name)
        ? 'vector'
        : this.hosts.has(name)
          ? 'host'
          : undefined;
    throw new TensorSpecError(
      'MISSING_TENSOR',
      name,
      other
        ? `Tensor "${name}" was loaded as a ${other}, not as a ${role}; list it with role "${role}" in the plugin's tensors().`
        : `Tensor "${name}" is not loaded: it is absent from the file or not listed in the plugin's tensors().`,
    );
  }

  matrix(name: string): Weight {
    return this.matrices.get(name) ?? this.absent(name, 'matrix');
  }
  vector(name: string): F32Buffer {
    return this.vectors.get(name) ?? this.absent(name, 'vector');
  }
  host(name: string): Float32Array {
    return this.hosts.get(name) ?? this.absent(name, 'host');
  }
  optMatrix(name: string): Weight | undefined {
    return this.matrices.get(name);
  }
  optVector(name: string): F32Buffer | undefined {
    return this.vectors.get(name);
  }
  optHost(name: string): Float32Array | undefined {
    return this.hosts.get(name);
  }

  /** Total bytes handed to the kernels. */
  get byteLength(): number {
    let n = 0;
    for (const w of this.matrices.values()) n += w.byteLength;
    for (const v of this.vectors.values()) n += v.length * 4;
    return n;
  }

  dispose(): void {
    for (const w of this.matrices.values()) if (!w.disposed) w.dispose();
    for (const v of this.vectors.values()) if (!v.disposed) v.dispose();
    this.matrices.clear();
    this.vectors.clear();
    this.hosts.clear();
  }
}
