// Seed data for the API tests (test/integration/api*.test.ts), written with SQL so each number is known:
//   * runs 1–12 (workflow wf-<i>, Temporal run id 00000000-0000-4000-8000-<i, 12 digits>), an hour apart; sources `a` and `b` (assets) and `news` (articles) in each.
//     `a`: 100 records parsed, 1 quarantined, 10 s, in runs 1–11; run 12: 30 parsed, 15 quarantined, 30 s
//     (a record drop, a quarantine spike and a duration spike against the baseline).
//     `b`: 60 parsed, 20 s, succeeded in runs 1–11, failed in run 12 after 5 fetch attempts (run 12 is `partial`).
//     `news`: 6 parsed, 2 s, unchanged in run 12. Run 11 held a delete guard for `a`.
//   * 120 asset records (`key-0`…`key-119`): even i → source a, odd → b; every third symbol BTC; key-119
//     soft-deleted. 6 article records of `news` (`story-1`…`story-6`).
//   * entities: 1 (BTC) = a/key-0 + b/key-3, 2 = a/key-6 alone (a near miss of b/key-3, for review), 3 (article) = news/story-1.
//   * overrides: 1 forbids a/key-0 with b/key-5; 2 (removed) forced a/key-2 with b/key-7.
//   * quarantine: two rows for a/key-0 (runs 11 and 12); drift events for `a` and `news`.
//   * quotes of entity 1: a/key-0 (record 1) and b/key-3 (record 4) hourly from 2026-01-01 00:00 for 48 hours,
//     a at 100 + h and b at 102 + h; raw observations begin 2026-01-01 (quote_horizon), and record 1 has daily
//     rollups for 2025-12-01…2025-12-10 (open 90 + d, close 91 + d). Run 12 found a price divergence of entity 1.
import type { Database } from '../../src/db/orm.ts';
import { ensurePartitions } from '../../src/db/quotes.ts';

export const SEED = {
  runs: 12,
  liveAssets: 119,
  articles: 6,
  latestRun: 12,
  assetsOfA: 60,
  btcOfB: 20,
  quoteHours: 48,
  rawFrom: '2026-01-01T00:00:00.000Z',
} as const;

export async function truncateApiTables(db: Database): Promise<void> {
  await db.pool.query(
    'TRUNCATE run, run_source, source_state, raw_payload, raw_page, record, stage_record, quarantine, entity, entity_link, entity_override, drift_event, quote, quote_daily, quote_horizon RESTART IDENTITY CASCADE',
  );
}

export async function seedApiData(db: Database): Promise<void> {
  await truncateApiTables(db);
  const q = (sql: string) => db.pool.query(sql);
  await q(`
    INSERT INTO run (workflow_id, temporal_run_id, original_run_id, status, started_at, finished_at, error)
    SELECT 'wf-' || i, '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), CASE WHEN i = 12 THEN 'partial' ELSE 'succeeded' END,
           timestamptz '2026-01-01 00:00Z' + i * interval '1 hour',
           timestamptz '2026-01-01 00:00Z' + i * interval '1 hour' + interval '40 seconds',
           CASE WHEN i = 12 THEN 'b: fetch failed: HTTP 503' END
    FROM generate_series(1, 12) AS i`);
  await q(`
    INSERT INTO run_source (run_id, source_id, status, started_at, finished_at, bytes, pages, parsed, staged, quarantined, inserted, updated, unchanged,
                            duplicates, soft_deleted, restored, drift_events, entities_linked, entities_created, delete_guard, error)
    SELECT i, 'a', 'succeeded', r.started_at, r.started_at + CASE WHEN i = 12 THEN interval '30 seconds' ELSE interval '10 seconds' END,
           10000, 1, CASE WHEN i = 12 THEN 30 ELSE 100 END, CASE WHEN i = 12 THEN 15 ELSE 99 END, CASE WHEN i = 12 THEN 15 ELSE 1 END,
           CASE WHEN i = 1 THEN 99 ELSE 2 END, 3, CASE WHEN i = 1 THEN 0 ELSE 94 END, 0, CASE WHEN i = 12 THEN 4 ELSE 0 END, 0,
           CASE WHEN i = 12 THEN 2 ELSE 0 END, 1, 0,
           CASE WHEN i = 11 THEN 'held 25 of 50 live records (50%): more than max_delete_ratio 20%' END, NULL
    FROM generate_series(1, 12) AS i JOIN run r ON r.id = i
    UNION ALL
    SELECT i, 'b', CASE WHEN i = 12 THEN 'failed' ELSE 'succeeded' END, r.started_at, r.started_at + interval '20 seconds',
           CASE WHEN i = 12 THEN 0 ELSE 6000 END, CASE WHEN i = 12 THEN 0 ELSE 1 END, CASE WHEN i = 12 THEN 0 ELSE 60 END, CASE WHEN i = 12 THEN 0 ELSE 60 END,
           0, CASE WHEN i = 1 THEN 60 ELSE 0 END, 0, CASE WHEN i IN (1, 12) THEN 0 ELSE 60 END, 0, 0, 0, 0, 0, 0, NULL,
           CASE WHEN i = 12 THEN 'fetch failed: HTTP 503' END
    FROM generate_series(1, 12) AS i JOIN run r ON r.id = i
    UNION ALL
    SELECT i, 'news', CASE WHEN i = 12 THEN 'unchanged' ELSE 'succeeded' END, r.started_at, r.started_at + interval '2 seconds',
           3000, 1, CASE WHEN i = 12 THEN 0 ELSE 6 END, CASE WHEN i = 12 THEN 0 ELSE 6 END, 0, CASE WHEN i = 1 THEN 6 ELSE 0 END, 0,
           CASE WHEN i IN (1, 12) THEN 0 ELSE 6 END, 0, 0, 0, CASE WHEN i = 5 THEN 1 ELSE 0 END, 0, 0, NULL, NULL
    FROM generate_series(1, 12) AS i JOIN run r ON r.id = i`);
  await q(`
    UPDATE run_source SET attempts = '{"fetchSource": 5}',
           errors = '[{"stage": "fetchSource", "attempt": 1, "error": "HTTP 503", "at": "2026-01-01T12:00:05.123456+00:00"}]'
    WHERE run_id = 12 AND source_id = 'b'`);
  await q(`
    INSERT INTO raw_payload (run_id, source_id, url, status, http_status, content_type, content_hash, size_bytes, fetched_at)
    VALUES (1, 'a', 'file:///a.csv', 'stored', 200, 'text/csv', 'sha256-a', 10000, timestamptz '2026-01-01 01:00:01Z'),
           (1, 'b', 'file:///b.csv', 'stored', 200, 'text/csv', 'sha256-b', 6000, timestamptz '2026-01-01 01:00:01Z'),
           (1, 'news', 'http://127.0.0.1/feed.xml', 'stored', 200, 'application/rss+xml', 'sha256-news', 3000, timestamptz '2026-01-01 01:00:01Z')`);
  await q(`
    INSERT INTO record (kind, source_id, source_key, symbol, name, price_usd, content_hash, raw_payload_id, raw_position, run_id, first_run_id,
                        updated_at, observed_at, deleted_at, deleted_run_id)
    SELECT 'asset', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'key-' || i, CASE WHEN i % 3 = 0 THEN 'BTC' ELSE 'C' || i END,
           'Coin ' || i, (i * 1.5)::numeric, md5(i::text), CASE WHEN i % 2 = 0 THEN 1 ELSE 2 END, i, 1, 1,
           timestamptz '2026-01-01 01:00Z' + i * interval '1 minute',
           CASE WHEN i IN (0, 3) THEN timestamptz '2026-01-02 23:00Z' ELSE timestamptz '2026-01-01 01:00Z' + i * interval '1 minute' END,
           CASE WHEN i = 119 THEN now() END, CASE WHEN i = 119 THEN 11 END
    FROM generate_series(0, 119) AS i`);
  await q(`
    INSERT INTO record (kind, source_id, source_key, title, url, author, published_at, content_hash, raw_payload_id, raw_position, run_id, first_run_id, updated_at, observed_at)
    SELECT 'article', 'news', 'story-' || i, 'Story ' || i, 'https://news.example/' || i, 'Ann Author', timestamptz '2026-01-01 00:00Z' + i * interval '1 hour',
           md5('story' || i), 3, i - 1, 1, 1, timestamptz '2026-01-02 00:00Z', timestamptz '2026-01-02 00:00Z'
    FROM generate_series(1, 6) AS i`);
  await ensurePartitions(db.pool, [new Date('2026-01-01T00:00:00Z')]);
  await q(`
    INSERT INTO quote (record_id, observed_at, price_usd, volume_24h_usd, run_id, raw_payload_id, raw_position)
    SELECT r.id, timestamptz '2026-01-01 00:00Z' + h * interval '1 hour', CASE WHEN r.id = 1 THEN 100 ELSE 102 END + h, 1000 + h, 1, r.raw_payload_id, r.raw_position
    FROM generate_series(0, 47) AS h CROSS JOIN record r WHERE r.id IN (1, 4)`);
  await q(`
    INSERT INTO quote_daily (record_id, day, open_usd, high_usd, low_usd, close_usd, mean_usd, volume_24h_usd, market_cap_usd, observations, first_at, last_at)
    SELECT 1, date '2025-12-01' + d, 90 + d, 92 + d, 89 + d, 91 + d, 90.5 + d, 500, NULL, 4, timestamptz '2025-12-01 00:00Z' + d * interval '1 day',
           timestamptz '2025-12-01 18:00Z' + d * interval '1 day'
    FROM generate_series(0, 9) AS d`);
  await q(`INSERT INTO quote_horizon (id, raw_from) VALUES (1, timestamptz '2026-01-01 00:00Z')`);
  await q(
    `INSERT INTO source_state (source_id, kind, last_payload_id, content_hash) VALUES ('a', 'asset', 1, 'sha256-a')`,
  );
  await q(`
    INSERT INTO entity (kind, seed_record_id, symbol, name, title, url)
    VALUES ('asset', 1, 'BTC', 'Coin 0', NULL, NULL), ('asset', 7, 'C6', 'Coin 6', NULL, NULL), ('article', 121, NULL, NULL, 'Story 1', 'https://news.example/1')`);
  await q(`
    INSERT INTO entity_link (record_id, entity_id, rule, confidence, evidence, run_id)
    VALUES (1, 1, 'seed', 1, '{"created": true}', 1),
           (4, 1, 'symbol+name', 0.9, '{"symbols": ["BTC", "BTC"], "name_similarity": 0.93, "matched_record": 1}', 1),
           (7, 2, 'new', 1, '{"review": {"reason": "near_miss", "entity_id": 1, "record_id": 4, "with": ["b", "key-3"], "rule": "near_miss", "confidence": 0.6, "evidence": {"name_similarity": 0.5}}}', 1),
           (121, 3, 'seed', 1, '{"created": true}', 1)`);
  // what identity resolution keeps for every entity it links: how many sources describe it with a live record
  await q(`
    UPDATE entity e SET live_sources = c.n FROM (
      SELECT l.entity_id, count(DISTINCT r.source_id)::int AS n FROM entity_link l JOIN record r ON r.id = l.record_id
      WHERE r.deleted_at IS NULL GROUP BY 1) c
    WHERE e.id = c.entity_id`);
  await q(`
    INSERT INTO quarantine (run_id, source_id, raw_payload_id, raw_position, source_key, reason, fields)
    VALUES (11, 'a', 1, 0, 'key-0', 'price_usd not a number: "n/a"', '{"price": "n/a"}'),
           (12, 'a', 1, 0, 'key-0', 'price_usd not a number: "1.913,88"', '{"price": "1.913,88"}'),
           (12, 'a', 1, 5, NULL, 'no source key', '{}')`);
  await q(`
    INSERT INTO run_anomaly (run_id, source_id, rule, message, current, reference)
    VALUES (12, 'b', 'source_failed', 'b failed', NULL, NULL), (12, 'a', 'record_count_change', 'a: 30 records parsed, -70.0 % against 100', 30, 100)`);
  await q(`
    INSERT INTO run_anomaly (run_id, source_id, rule, message, current, reference, entity_id, details)
    VALUES (12, NULL, 'price_divergence', 'BTC (entity 1): a 147 and b 149 differ by 1.4 %', 0.0136, 0.05, 1,
            '{"median_usd": "148", "spread": 0.0136, "quotes": [{"source": "a", "price_usd": "147"}, {"source": "b", "price_usd": "149"}]}')`);
  await q(`
    INSERT INTO entity_override (kind, action, left_source_id, left_source_key, right_source_id, right_source_key, reason, created_at, removed_at)
    VALUES ('asset', 'forbid', 'a', 'key-0', 'b', 'key-5', 'seed: two coins', timestamptz '2026-01-01 12:00Z', NULL),
           ('asset', 'force', 'a', 'key-2', 'b', 'key-7', 'seed: removed', timestamptz '2026-01-01 12:00Z', timestamptz '2026-01-02 00:00Z')`);
  await q(`
    INSERT INTO drift_event (run_id, source_id, change, field, previous_field, action)
    VALUES (12, 'a', 'renamed', 'price', 'current_price', 'reported'), (12, 'a', 'added', 'extra', NULL, 'reported'),
           (5, 'news', 'removed', 'author', NULL, 'reported')`);
}
