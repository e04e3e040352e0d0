// Prints "N passed, N failed, N skipped" from a vitest JSON report (the last line CI reads).
// Exits non-zero when the report is missing, unreadable, or has failures.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(
    `ci-summary: no vitest report at ${file} (${err.message}); the build or test run failed before reporting`,
  );
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// Suites that failed to load (syntax errors, import failures) count as failures too.
const failedSuites = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
).length;
const failed = (report.numFailedTests ?? 0) + failedSuites;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
