// The workflow bundle, built in a short-lived child process: webpack's ~150 MB would otherwise stay in the
// worker's resident set for its whole life. Built once per process and shared by every worker it creates,
// unless one was built ahead (the container image does, as samples-typescript's production sample does).
// Run directly (`node src/temporal/bundle.ts`), it writes the bundle to stdout.
import { bundleWorkflowCode } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundle: Promise<{ code: string }> | undefined;

/** `prebuilt`: the path of a bundle written ahead by this file (ETL_WORKFLOW_BUNDLE). */
export function workflowBundle(prebuilt?: string): Promise<{ code: string } | { codePath: string }> {
  if (prebuilt) return Promise.resolve({ codePath: prebuilt });
  bundle ??= promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url)], {
    maxBuffer: 64 * 1024 * 1024,
  }).then(({ stdout }) => ({ code: stdout }));
  return bundle;
}

if (import.meta.main) {
  // the bundler's own log lines go to stderr: stdout is the bundle
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    logger: {
      info: () => {},
      warn: (m) => console.error(m),
      error: (m) => console.error(m),
      debug: () => {},
      trace: () => {},
      log: () => {},
    },
  });
  process.stdout.write(code);
}
