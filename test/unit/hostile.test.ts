// Hostile input, the parts that are pure functions: URL redaction, the sources file read as values (not text),
// URL validation, UTF-16 without a byte-order mark, the delete guard, and the lane that keeps costly requests
// from taking every database connection.
import assert from 'node:assert/strict';
import { lane } from '../../src/api/operations.ts';
import { ProblemError } from '../../src/api/http.ts';
import { deleteGuard, type OrphanFacts } from '../../src/load/delete-guard.ts';
import { decode } from '../../src/sources/decode.ts';
import { parseSourcesConfig } from '../../src/sources/config.ts';
import { redactUrl, scrub } from '../../src/sources/redact.ts';
import { storable } from '../../src/db/sql.ts';

describe('hostile input: pure rules', () => {
  it('redacts credentials in URLs: key-like query parameters and passwords, nothing else', () => {
    assert.equal(
      redactUrl('https://api.example/v3/coins?vs_currency=usd&api_key=abc123&page=2'),
      'https://api.example/v3/coins?vs_currency=usd&api_key=REDACTED&page=2',
    );
    assert.equal(
      redactUrl('https://u:pw@api.example/x?access_token=t&x-api-key=k&apiKey=k2&sig=s'),
      'https://u:REDACTED@api.example/x?access_token=REDACTED&x-api-key=REDACTED&apiKey=REDACTED&sig=REDACTED',
    );
    for (const kept of ['https://api.example/x?monkey=1&keyword=bitcoin', '../data/demo/assets.csv'])
      assert.equal(redactUrl(kept), kept);
    assert.equal(scrub('401: invalid key abc123secret', ['abc123secret', undefined]), '401: invalid key REDACTED');
  });

  it('substitutes variables into values after parsing, so a variable can never add YAML', () => {
    const env = {
      SOURCE_URL: 'https://a.example/x.csv\n  - id: passwd\n    kind: csv\n    url: /etc/passwd',
      RATIO: '0.3',
    };
    // the variable stays one value of one source, and a URL with a line break in it is no URL
    assert.throws(
      () => parseSourcesConfig('sources:\n  - id: a\n    kind: csv\n    url: ${SOURCE_URL}\n', 'f.yaml', env),
      /source 'a': field 'url': control characters are not allowed/,
    );
    const parsed = parseSourcesConfig(
      'sources:\n  - id: a\n    kind: csv\n    url: ${URL}\n    max_delete_ratio: ${RATIO}\n',
      'f.yaml',
      { ...env, URL: 'a.csv' },
    );
    assert.deepEqual(
      parsed.map((s) => s.id),
      ['a'],
    );
    assert.equal(parsed[0]!.maxDeleteRatio, 0.3, 'a value that is one variable keeps its type');
    assert.throws(
      () => parseSourcesConfig('sources:\n  - { id: a, kind: csv, url: "${NOPE}" }\n', 'f.yaml', {}),
      /\$\{NOPE\} is not set/,
    );
  });

  it('names the file, source and field of a URL that is not one', () => {
    assert.throws(
      () => parseSourcesConfig('sources:\n  - { id: a, kind: csv, url: "htps://x.example/a.csv" }\n', 'f.yaml'),
      /f\.yaml: source 'a': field 'url': scheme 'htps:' is neither http nor https/,
    );
    assert.throws(
      () =>
        parseSourcesConfig(
          'sources:\n  - { id: a, kind: csv, url: "https://exa mple/x", rate_limit: { requests_per_second: 1 } }\n',
          'f.yaml',
        ),
      /f\.yaml: source 'a': field 'url': not a valid URL/,
    );
    const [source] = parseSourcesConfig(
      'sources:\n  - { id: g, kind: coingecko, url: "https://api.example/m?api_key=s3cr3t" }\n',
      'f.yaml',
    );
    assert.equal(source!.url, 'https://api.example/m?api_key=REDACTED', 'what is shown of the source');
    assert.equal(
      source!.location.type === 'http' && source!.location.url,
      'https://api.example/m?api_key=s3cr3t',
      'what is fetched',
    );
  });

  it('reads UTF-16 without a byte-order mark as UTF-16, not as text full of NULs', () => {
    const text = '<?xml version="1.0"?><rss><channel><title>Über</title></channel></rss>';
    assert.equal(decode(Buffer.from(text, 'utf16le'), { xml: true }), text);
    const be = Buffer.from(text, 'utf16le').swap16();
    assert.equal(decode(be, { xml: true }), text);
    assert.equal(decode(Buffer.from('plain ascii, no zeros at all', 'utf8')), 'plain ascii, no zeros at all');
  });

  it('makes any text storable: NUL and lone surrogates replaced, length bounded', () => {
    assert.equal(storable('a\u0000b\ud800c'), 'a\uFFFDb\uFFFDc');
    assert.equal(storable('x'.repeat(5000)).length, 2000);
    const plain = 'nothing to do';
    assert.equal(storable(plain), plain);
  });

  it('holds deletes by each rule of the delete guard, and measures them against the window, not today', () => {
    const base: OrphanFacts = {
      orphans: 10,
      live: 100,
      baseline: 100,
      baselineSince: '2024-01-01T00:00:00Z',
      parsed: 90,
      quarantined: 0,
      keyless: 0,
      shrinkApproved: false,
    };
    const limits = { maxDeleteRatio: 0.2, maxQuarantineRatio: 0.1, incompleteReason: null, windowDays: 30 };
    assert.equal(deleteGuard(base, limits), null);
    assert.equal(deleteGuard({ ...base, orphans: 0, parsed: 0 }, limits), null, 'nothing to delete, nothing to hold');
    assert.match(deleteGuard(base, { ...limits, incompleteReason: 'max_pages 3' })!, /incomplete \(max_pages 3\)/);
    assert.match(deleteGuard({ ...base, parsed: 0 }, limits)!, /the snapshot is empty/);
    assert.match(deleteGuard({ ...base, quarantined: 20 }, limits)!, /20 of 90 records quarantined/);
    assert.match(deleteGuard({ ...base, keyless: 1 }, limits)!, /have no key/);
    assert.match(deleteGuard({ ...base, orphans: 30 }, limits)!, /held 30 of 100 live records \(30%\)/);
    // 10 % of today's 100, but 100 − 10 = 90 is 40 % below the 150 of the window
    assert.match(
      deleteGuard({ ...base, baseline: 150 }, limits)!,
      /90 live records would remain, 40% fewer than the 150 the source had since 2024-01-01/,
    );
    assert.equal(
      deleteGuard({ ...base, orphans: 60, baseline: 150, shrinkApproved: true }, limits),
      null,
      'an approved shrink skips the ratio',
    );
    assert.match(deleteGuard({ ...base, parsed: 0, shrinkApproved: true }, limits)!, /empty/, '...not the other rules');
  });

  it('lets a few costly requests run at once, queues some, refuses the rest with a 503 to retry', async () => {
    const run = lane(2, 1);
    const gates: (() => void)[] = [];
    const started: number[] = [];
    const job = (i: number) =>
      run(
        () =>
          new Promise<number>((resolve) => {
            started.push(i);
            gates.push(() => resolve(i));
          }),
      );
    const [a, b, c] = [job(1), job(2), job(3)];
    await Promise.resolve();
    assert.deepEqual(started, [1, 2], 'two run, the third waits');
    await assert.rejects(
      job(4),
      (error: unknown) => error instanceof ProblemError && error.status === 503 && error.headers['Retry-After'] === '2',
    );
    gates.shift()!();
    assert.equal(await a, 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [1, 2, 3], 'the waiting one takes the free turn');
    for (const open of gates) open();
    assert.deepEqual(await Promise.all([b, c]), [2, 3]);
  });
});
