// Rows to response objects, typed by the response schemas (z.output), so the compiler checks every field
// the OpenAPI document promises. Timestamps become ISO 8601 UTC strings; decimals stay strings.
import type { z } from 'zod';
import type { IDataRecord, IRun, IRunAnomaly, IRunSource } from '../db/entities.ts';
import type { IEntity, IEntityLink, RecordRow } from '../db/queries.ts';
import type { DriftEventRow, OverrideRow, QuarantineRow, ReviewRow, SourceRunRow } from '../db/queries/operator.ts';
import type { SourceConfig } from '../sources/config.ts';
import { adapterFor } from '../sources/index.ts';
import type {
  Anomaly,
  DataRecord,
  DriftEventInfo,
  EntityLinkInfo,
  CanonicalEntity,
  OverrideInfo,
  QuarantineItem,
  ReviewItem,
  RunBrief,
  RunInfo,
  RunRef,
  RunSourceInfo,
  SourceInfo,
} from './schemas.ts';

/** Timestamps as ISO 8601 UTC; a row read with hand-written SQL brings them formatted already. */
export const iso = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString());
export const isoOrNull = (d: Date | string | null | undefined) => (d ? iso(d) : null);
export const durationMs = (start: Date, end: Date | null | undefined) =>
  end ? Math.max(0, end.getTime() - start.getTime()) : null;

/** The Web UI page of a workflow execution. */
export function workflowUiUrl(uiBase: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiBase.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}

export interface Links {
  uiBase: string;
  namespace: string;
}

/** What a run's links need besides: the namespace's retention (null: unknown) and the time they are made at. */
export interface RunLinks extends Links {
  retentionMs: number | null;
  now: number;
}

/**
 * When Temporal deletes a closed run's history (its close plus the namespace's retention; the run's finished_at
 * stands for its close, which follows it within moments). Null while it runs or the retention is unknown.
 */
export function historyExpiresAt(run: Pick<IRun, 'status' | 'finishedAt'>, retentionMs: number | null): Date | null {
  if (retentionMs === null || run.status === 'running' || !run.finishedAt) return null;
  return new Date(run.finishedAt.getTime() + retentionMs);
}

export function recordJson(r: IDataRecord | RecordRow): z.output<typeof DataRecord> {
  const common = {
    id: r.id,
    source: r.sourceId,
    source_key: r.sourceKey,
    source_updated_at: isoOrNull(r.sourceUpdatedAt),
    run_id: r.runId,
    first_run_id: r.firstRunId,
    raw_payload_id: r.rawPayloadId,
    raw_position: r.rawPosition,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    deleted_at: isoOrNull(r.deletedAt),
  };
  if (r.kind === 'article') {
    return {
      ...common,
      kind: 'article',
      title: r.title ?? null,
      url: r.url ?? null,
      summary: r.summary ?? null,
      author: r.author ?? null,
      published_at: isoOrNull(r.publishedAt),
    };
  }
  return {
    ...common,
    kind: 'asset',
    symbol: r.symbol ?? null,
    name: r.name ?? null,
    rank: r.rank ?? null,
    price_usd: r.priceUsd ?? null,
    market_cap_usd: r.marketCapUsd ?? null,
    volume_24h_usd: r.volume24hUsd ?? null,
    circulating_supply: r.circulatingSupply ?? null,
    total_supply: r.totalSupply ?? null,
    max_supply: r.maxSupply ?? null,
    percent_change_24h: r.percentChange24h ?? null,
    open_usd: r.openUsd ?? null,
    high_usd: r.highUsd ?? null,
    low_usd: r.lowUsd ?? null,
    observed_at: iso(r.observedAt),
  };
}

export function runRefJson(run: IRun, links: RunLinks): z.output<typeof RunRef> {
  const expiresAt = historyExpiresAt(run, links.retentionMs);
  const expired = expiresAt !== null && expiresAt.getTime() <= links.now;
  return {
    id: run.id,
    workflow_id: run.workflowId,
    temporal_run_id: run.temporalRunId,
    status: run.status,
    started_at: iso(run.startedAt),
    finished_at: isoOrNull(run.finishedAt),
    // past the retention the Web UI has no page for it: no link rather than one to a 404
    ui_url: expired ? null : workflowUiUrl(links.uiBase, links.namespace, run.workflowId, run.temporalRunId),
    history_expires_at: isoOrNull(expiresAt),
    history_expired: expired,
  };
}

export function runBriefJson(run: IRun, links: RunLinks): z.output<typeof RunBrief> {
  return {
    ...runRefJson(run, links),
    duration_ms: durationMs(run.startedAt, run.finishedAt),
    error: run.error ?? null,
    reprocess_of: run.reprocessOf ?? null,
    dry_run: run.dryRun,
  };
}

export function runJson(run: IRun, sources: IRunSource[], links: RunLinks): z.output<typeof RunInfo> {
  return { ...runBriefJson(run, links), sources: sources.map(runSourceJson) };
}

export function runSourceJson(s: IRunSource): z.output<typeof RunSourceInfo> {
  return {
    source: s.sourceId,
    status: s.status,
    started_at: iso(s.startedAt),
    finished_at: isoOrNull(s.finishedAt),
    duration_ms: s.status === 'running' ? null : durationMs(s.startedAt, s.finishedAt),
    payload_id: s.payloadId ?? null,
    fetched_bytes: s.bytes,
    fetched_pages: s.pages,
    parsed: s.parsed,
    staged: s.staged,
    inserted: s.inserted,
    updated: s.updated,
    unchanged: s.unchanged,
    duplicates: s.duplicates,
    quarantined: s.quarantined,
    field_issues: s.fieldIssues,
    warnings: s.warnings ?? [],
    soft_deleted: s.softDeleted,
    restored: s.restored,
    drift_events: s.driftEvents,
    entities_linked: s.entitiesLinked,
    entities_created: s.entitiesCreated,
    series: s.series ?? null,
    quotes_appended: s.quotesAppended,
    quotes_revised: s.quotesRevised,
    quotes_rolled_up: s.quotesRolledUp,
    delete_guard: s.deleteGuard ?? null,
    error: s.error ?? null,
    attempts: s.attempts ?? {},
    attempt_errors: s.errors ?? [],
  };
}

export function entityJson(e: IEntity, sources: string[]): z.output<typeof CanonicalEntity> {
  return {
    id: e.id,
    kind: e.kind,
    symbol: e.symbol ?? null,
    name: e.name ?? null,
    title: e.title ?? null,
    url: e.url ?? null,
    seed_record_id: e.seedRecordId,
    created_at: iso(e.createdAt),
    sources,
  };
}

export function linkJson(l: IEntityLink): z.output<typeof EntityLinkInfo> {
  return {
    entity_id: Number(l.entity),
    rule: l.rule,
    confidence: Number(l.confidence),
    evidence: l.evidence,
    run_id: l.runId,
    linked_at: iso(l.linkedAt),
  };
}

const numberOrNull = (value: string | number | null | undefined) =>
  value === null || value === undefined ? null : Number(value);

/** A stored anomaly (run_anomaly): a source's outcome against its history, or a price divergence across sources. */
export function anomalyJson(a: IRunAnomaly): z.output<typeof Anomaly> {
  return {
    rule: a.rule,
    source: a.sourceId ?? null,
    message: a.message,
    current: numberOrNull(a.current),
    reference: numberOrNull(a.reference),
    entity_id: a.entityId == null ? null : Number(a.entityId),
    details: a.details ?? null,
  };
}

// ------------------------------------------------------------------------------------------- operator

/**
 * Where a source is fetched from, safe to show anyone: a URL's scheme, host and path (its query may carry a
 * key, its user info a password), or the file path as the sources file names it.
 */
export function sourceLocation(url: string): string {
  if (/^https?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      return `${parsed.origin}${parsed.pathname}`;
    } catch {
      return '(an invalid URL)';
    }
  }
  return url.replace(/[?#].*$/s, '');
}

export function sourceJson(config: SourceConfig, last: SourceRunRow | undefined): z.output<typeof SourceInfo> {
  const recordKind = adapterFor(config).recordKind;
  return {
    id: config.id,
    kind: config.kind,
    record_kind: recordKind,
    delete_policy: config.deletePolicy,
    ...(recordKind === 'asset' ? { series: config.series } : {}),
    url: sourceLocation(config.url), // redacted already; its query goes as well
    last_run: last
      ? {
          run_id: Number(last.run_id),
          status: last.status,
          started_at: iso(last.started_at),
          finished_at: isoOrNull(last.finished_at),
          parsed: last.parsed,
          staged: last.staged,
          quarantined: last.quarantined,
          inserted: last.inserted,
          updated: last.updated,
          unchanged: last.unchanged,
          soft_deleted: last.soft_deleted,
          error: last.error,
        }
      : null,
  };
}

export function quarantineJson(q: QuarantineRow): z.output<typeof QuarantineItem> {
  return {
    id: Number(q.id),
    run_id: Number(q.run_id),
    source: q.source_id,
    source_key: q.source_key,
    raw_payload_id: Number(q.raw_payload_id),
    raw_position: q.raw_position,
    reason: q.reason,
    fields: q.fields,
    created_at: iso(q.created_at),
  };
}

export function driftEventJson(d: DriftEventRow): z.output<typeof DriftEventInfo> {
  return {
    id: Number(d.id),
    run_id: Number(d.run_id),
    source: d.source_id,
    field: d.field,
    change: d.change,
    action: d.action,
    previous_field: d.previous_field,
    previous_type: d.previous_type,
    current_type: d.current_type,
    confidence: d.confidence,
    created_at: iso(d.created_at),
  };
}

export function reviewJson(r: ReviewRow): z.output<typeof ReviewItem> {
  const side = (s: ReviewRow['record']) => ({
    source: s.source_id,
    source_key: s.source_key,
    symbol: s.symbol,
    name: s.name,
    title: s.title,
  });
  const { reason, confidence, evidence, ...details } = r.review;
  // the candidate's own evidence first; then what the link says besides (the tied entities, the record it lost to)
  const { entity_id: _entity, record_id: _record, ...about } = details;
  return {
    record: { id: Number(r.record.id), ...side(r.record) },
    candidate: { entity_id: Number(r.candidate.entity_id), record_id: Number(r.candidate.id), ...side(r.candidate) },
    reason,
    confidence: Number(confidence),
    evidence: { ...(evidence ?? {}), ...about, ...r.evidence },
  };
}

export function overrideJson(o: OverrideRow): z.output<typeof OverrideInfo> {
  return {
    id: Number(o.id),
    kind: o.kind,
    action: o.action,
    left: { source: o.left_source_id, key: o.left_source_key },
    right: { source: o.right_source_id, key: o.right_source_key },
    reason: o.reason,
    created_at: iso(o.created_at),
    removed_at: isoOrNull(o.removed_at),
  };
}
