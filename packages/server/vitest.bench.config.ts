// The serving benchmark (not part of `vitest run`): `pnpm --filter @quant/server bench`.
import { packageProject } from '../../vitest.shared';

export default packageProject('server', {
  name: 'server-bench',
  include: ['bench/**/*.bench-run.ts'],
  testTimeout: 3_600_000,
  hookTimeout: 3_600_000,
});
