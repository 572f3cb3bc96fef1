// Every recorded real-world CSV and feed in ../shared/fixtures goes through the real extract, normalize and
// load activities (run in MockActivityEnvironment, against the real test database): each is ingested, with
// its bad records quarantined, or rejected with a clear reason. Nothing comes out as mojibake.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from '../../src/db/orm.ts';
import { recorded, recordedRoot } from '../recorded.ts';
import { runStages, tempDir, testDatabase, truncateAll } from '../helpers.ts';

const fixtures = recordedRoot;

interface Outcome {
  file: string;
  rejected?: string;
  staged: number;
  quarantined: number;
  reasons: string[];
}

// what an operator would declare for these files in the sources file
const DECLARED: Record<string, string> = {
  'kasparro__shashank4227+kasparro-backend-shashank-mudavath__legacy_crypto_data.csv':
    'csv: { date_format: dd-mm-yyyy }',
  'kaggle-cmc-history__kartik31_bitcoin_price.csv': "csv: { date_format: 'mon dd, yyyy' }",
  'kaggle-cmc-history__kartik31_ethereum_price.csv': "csv: { date_format: 'mon dd, yyyy' }",
};

describe('recorded real-world fixtures (../shared/fixtures, real activities, real PostgreSQL)', () => {
  let db: Database;
  const outcomes = new Map<string, Outcome>();

  before(async function () {
    if (!recorded()) return this.skip();
    db = await testDatabase();
    await truncateAll(db);
    const dir = tempDir('fixtures');
    for (const kind of ['csv', 'rss'] as const) {
      for (const file of fs.readdirSync(path.join(fixtures, kind)).sort()) {
        const id = `f-${outcomes.size}`;
        const sourcesFile = path.join(dir, `${id}.yaml`);
        fs.writeFileSync(
          sourcesFile,
          `sources:\n  - id: ${id}\n    kind: ${kind}\n    url: ${path.join(fixtures, kind, file)}\n    ${DECLARED[file] ?? ''}\n`,
        );
        outcomes.set(file, await ingest(db, sourcesFile, id, file));
      }
    }
  });
  after(() => db?.close());

  it('ingests or rejects every file, each rejection with its reason', () => {
    assert.ok(outcomes.size >= 40, `${outcomes.size} fixture files`);
    for (const o of outcomes.values()) {
      if (o.rejected) assert.match(o.rejected, /nothing maps to|not an RSS or Atom feed/, o.file);
      else assert.ok(o.staged + o.quarantined > 0, `${o.file} produced records`);
      assert.equal(o.reasons.length, o.quarantined, `${o.file}: every quarantined record has its reason`);
    }
  });

  it('reads real market exports completely (pandas export of /coins/markets, peer CSVs with odd headers and dates)', () => {
    const pandas = outcomes.get('coingecko_markets_pandas_export__rciminera-Crypto-Pricing_coin.csv')!;
    assert.deepEqual([pandas.staged, pandas.quarantined], [100, 0]);
    const legacy = outcomes.get('kasparro__shashank4227+kasparro-backend-shashank-mudavath__legacy_crypto_data.csv')!;
    assert.ok(legacy.staged > 0 && legacy.quarantined === 0, 'Ticker/LastPrice/Vol/RecordedDate (dd-mm-yyyy) all map');
    const bitcoinHistory = outcomes.get(
      'kasparro__shuraih775+kasparro-backend-Mohammed-Shuraih-Shaikh__data_coin_Bitcoin.csv',
    )!;
    assert.ok(bitcoinHistory.staged > 2000);
  });

  it('rejects files that are not asset quotes, naming the missing fields and what the file has', () => {
    const history = outcomes.get('kaggle-cmc-history__kartik31_bitcoin_price.csv')!;
    assert.match(
      history.rejected!,
      /nothing maps to source_key, symbol; fields: Close, Date, High, Low, Market Cap, Open, Volume/,
    );
    assert.match(outcomes.get('issues-cjs__303.csv')!.rejected!, /fields: Height, Index, Weight/);
  });

  it('decodes UTF-16LE and UTF-8 files with a BOM exactly (the BOM is not part of the first column)', () => {
    for (const file of ['issues-esm__365-utf16le-bom-windows.csv', 'issues-esm__365-utf8-bom-windows.csv']) {
      assert.match(outcomes.get(file)!.rejected!, /fields: a, b, c(;|$)/, file);
    }
  });

  it('reads feeds in every flavour and encoding, and refuses a document that is not a feed', () => {
    assert.match(outcomes.get('unrecognized.rss')!.rejected!, /not an RSS or Atom feed \(root element <head>\)/);
    for (const file of [
      'rss-1.rss',
      'craigslist.rss',
      'heise.atom',
      'feedburner.atom',
      'guardian.rss',
      'reddit-home.rss',
      'many-links.rss',
      'encoding.rss',
    ]) {
      assert.ok(outcomes.get(file)!.staged > 0, file);
    }
    assert.match(outcomes.get('missing-fields.atom')!.reasons[0]!, /title is required/);
  });

  it('stores no replacement characters: nothing was decoded with the wrong encoding', async () => {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM record WHERE concat(title, summary, name, author) LIKE '%' || chr(65533) || '%'`,
    );
    assert.equal(rows[0]!.n, 0);
    const latin1 = await db.pool.query<{ title: string }>(
      `SELECT title FROM record WHERE source_id = $1 ORDER BY raw_position LIMIT 3`,
      [sourceIdOf(outcomes, 'encoding.rss')],
    );
    assert.ok(
      latin1.rows.some((r) => /[áéíóúãõç]/.test(r.title)),
      `Portuguese accents decoded: ${latin1.rows.map((r) => r.title).join(' | ')}`,
    );
  });
});

function sourceIdOf(outcomes: Map<string, Outcome>, file: string): string {
  return `f-${[...outcomes.keys()].indexOf(file)}`;
}

async function ingest(db: Database, sourcesFile: string, sourceId: string, file: string): Promise<Outcome> {
  const { staged, quarantined, rejected, reasons } = await runStages(db, sourcesFile, sourceId);
  return { file, staged, quarantined, reasons, ...(rejected ? { rejected } : {}) };
}
