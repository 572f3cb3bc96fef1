// The run's custom search attributes must exist in the namespace before a workflow sets them. The dev server
// of `make dev` gets them on its command line; any other cluster gets them here through the operator API.
// Temporal Cloud has no operator API for this: there they are added once with `tcld` or the Cloud UI.
import type { Client } from '@temporalio/client';
// a CommonJS module whose named exports Node's ESM loader cannot see: take its default export
import proto from '@temporalio/proto';
import type { Logger } from '../logger.ts';
import { ETL_OUTCOME, ETL_SOURCES } from '../workflows/observability.ts';

const { IndexedValueType } = proto.temporal.api.enums.v1;

export const SEARCH_ATTRIBUTES = {
  [ETL_SOURCES.name]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  [ETL_OUTCOME.name]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
};
/** The same, as `temporal server start-dev --search-attribute` arguments. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_ARGS = [
  `${ETL_SOURCES.name}=KeywordList`,
  `${ETL_OUTCOME.name}=Keyword`,
].flatMap((a) => ['--search-attribute', a]);

export async function ensureSearchAttributes(client: Client, namespace: string, log: Logger): Promise<void> {
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.fromEntries(
      Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (customAttributes ?? {}))),
    );
    if (Object.keys(missing).length === 0) return;
    await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
    log.info({ namespace, added: Object.keys(missing) }, 'search attributes registered');
  } catch (error) {
    log.warn(
      { err: error, namespace, needed: Object.keys(SEARCH_ATTRIBUTES) },
      'could not register search attributes; add them to the namespace (Keyword list EtlSources, Keyword EtlOutcome) or runs will fail to start',
    );
    throw error;
  }
}
