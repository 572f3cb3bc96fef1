// The recorded real-world payloads (../shared/fixtures beside the clone, or ETL_FIXTURES_DIR): third-party
// files, not part of the repository. A test that needs them and does not find them is never skipped
// silently: it says so in the output (as a warning annotation on GitHub Actions), and where the fixtures
// must be there (ETL_REQUIRE_FIXTURES=1, set by .ci/run) it fails instead.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/settings.ts';

export const recordedRoot = path.resolve(
  process.env.ETL_FIXTURES_DIR ?? path.join(projectRoot, '..', 'shared', 'fixtures'),
);

const said = new Set<string>();

/**
 * The folder of recorded payloads (`sub` inside it), or undefined when it is missing: then the caller skips,
 * after this said so, once per folder. With ETL_REQUIRE_FIXTURES=1 a missing folder throws.
 */
export function recorded(sub = ''): string | undefined {
  const dir = path.join(recordedRoot, sub);
  if (fs.existsSync(dir)) return dir;
  const message = `the recorded fixtures are not at ${dir}: the tests that need them are SKIPPED (set ETL_FIXTURES_DIR, or put ../shared/fixtures beside the clone)`;
  if (process.env.ETL_REQUIRE_FIXTURES === '1') throw new Error(`${message}; ETL_REQUIRE_FIXTURES=1 requires them`);
  if (!said.has(dir)) {
    said.add(dir);
    console.warn(
      process.env.GITHUB_ACTIONS === 'true'
        ? `::warning title=recorded fixtures missing::${message}`
        : `  WARNING: ${message}`,
    );
  }
  return undefined;
}
