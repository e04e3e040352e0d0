// The Phi-3.5-mini-shaped fixture and benchmark (not part of `vitest run`): `pnpm --filter @quant/arch-phi3 bench`.
import { packageProject } from '../../vitest.shared';

export default packageProject('arch-phi3', {
  name: 'arch-phi3-bench',
  include: ['bench/**/*.fixture.ts'],
  testTimeout: 3_600_000,
  hookTimeout: 3_600_000,
});
