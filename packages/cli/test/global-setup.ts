/** Builds dist/bin.js once before the test files run (they spawn it). */
import { ensureBuilt } from './helpers/quant';

export default function setup(): void {
  ensureBuilt();
}
