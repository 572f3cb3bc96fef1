// What a run shows in the Temporal Web UI and to queries: typed search attributes (so operators can find
// runs: `temporal workflow list --query "EtlOutcome='partial'"`), each source's stage as the run's current
// details, and a `progress` query. Workflow code: imports only the Temporal SDK (the search-attribute key
// helpers live in @temporalio/common, which the workflow bundle already carries).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';

export const ETL_SOURCES = defineSearchAttributeKey('EtlSources', SearchAttributeType.KEYWORD_LIST);
export const ETL_OUTCOME = defineSearchAttributeKey('EtlOutcome', SearchAttributeType.KEYWORD);

export type Stage =
  | 'waiting'
  | 'fetch'
  | 'store raw'
  | 'normalize'
  | 'dedupe'
  | 'soft-delete orphans'
  | 'link entities'
  // superseded: a later fetch of the source merged first; `error` says which
  | 'succeeded'
  | 'unchanged'
  | 'superseded'
  | 'failed';
export interface Progress {
  runId: number;
  sources: Record<string, { stage: Stage; error?: string }>;
}
export const progressQuery = defineQuery<Progress>('progress');

/** Tracks each source's stage, answers the progress query and keeps the Web UI's current details up to date. */
export function trackProgress(runId: number, sourceIds: string[]) {
  const progress: Progress = {
    runId,
    sources: Object.fromEntries(sourceIds.map((id) => [id, { stage: 'waiting' as Stage }])),
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([{ key: ETL_SOURCES, value: sourceIds }]);
  const show = () =>
    setCurrentDetails(
      [
        `**ETL run ${runId}**`,
        '',
        ...Object.entries(progress.sources).map(
          ([id, s]) => `- **${id}**: ${s.stage}${s.error ? ` (${s.error.slice(0, 120)})` : ''}`,
        ),
      ].join('\n'),
    );
  show();
  return {
    stage(sourceId: string, stage: Stage, error?: string) {
      progress.sources[sourceId] = { stage, error };
      show();
    },
    outcome(status: string) {
      upsertSearchAttributes([{ key: ETL_OUTCOME, value: status }]);
    },
  };
}
