// How long the namespace keeps a closed workflow's history: the Web UI links the API hands out for runs work
// only that long. `make dev` sets it on its dev server (whose default is a day); elsewhere the cluster's
// operator sets it (docker compose: the temporal-namespace job), and the API reads it to say when a run's
// history is gone instead of linking to a page that is not there.
import type { Client } from '@temporalio/client';
import { msToTs, tsToMs } from '@temporalio/common/lib/time.js';
import type { Logger } from '../logger.ts';

/** The namespace's history retention in milliseconds (null when Temporal does not say). */
export async function namespaceRetentionMs(client: Client, namespace: string): Promise<number | null> {
  const { config } = await client.workflowService.describeNamespace({ namespace });
  return config?.workflowExecutionRetentionTtl ? tsToMs(config.workflowExecutionRetentionTtl) : null;
}

/** Sets the namespace's retention when it differs. */
export async function ensureRetention(
  client: Client,
  namespace: string,
  retentionMs: number,
  log: Logger,
): Promise<void> {
  if ((await namespaceRetentionMs(client, namespace)) === retentionMs) return;
  await client.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: msToTs(retentionMs) },
  });
  log.info({ namespace, retentionDays: retentionMs / 86_400_000 }, 'namespace retention set');
}
