import { packageProject } from '../../vitest.shared';

export default packageProject('arch-gemma2');
