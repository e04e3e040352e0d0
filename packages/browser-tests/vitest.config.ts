import { packageProject } from '../../vitest.shared';

// The pages import the built packages (dist/browser.js through the "browser" export condition), as an
// application would; only the Node-side expectations use the TypeScript sources.
export default packageProject('browser-tests', { testTimeout: 180_000, hookTimeout: 240_000 });
