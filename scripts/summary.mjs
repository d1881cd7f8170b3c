// Adds the vitest JSON report and the pytest JUnit XML into one closing line: "total: N passed, N failed".
// A missing report counts as a failure: a suite that did not run must not look green.
import { existsSync, readFileSync } from 'node:fs';

const [vitestJson, pytestXml] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];

if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
  skipped += r.numPendingTests + r.numTodoTests;
  console.log(`typescript: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
} else missing.push('vitest');

if (existsSync(pytestXml)) {
  const xml = readFileSync(pytestXml, 'utf8');
  const m = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (k) => Number((new RegExp(`\\b${k}="(\\d+)"`).exec(m) ?? [])[1] ?? 0);
  const total = attr('tests');
  const bad = attr('failures') + attr('errors');
  const skip = attr('skipped');
  passed += total - bad - skip;
  failed += bad;
  skipped += skip;
  console.log(`python: ${total - bad - skip} passed, ${bad} failed, ${skip} skipped`);
} else missing.push('pytest');

failed += missing.length;
if (missing.length) console.log(`missing reports (suite did not run): ${missing.join(', ')}`);
console.log(`total: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed ? 1 : 0);
