import assert from 'node:assert/strict';
import { SourcesConfigError, loadSourcesConfig, parseSourcesConfig } from '../../src/sources/config.ts';
import path from 'node:path';
import { projectRoot } from '../../src/settings.ts';

describe('sources config', () => {
  it('loads the demo config with paths resolved against the file', () => {
    const sources = loadSourcesConfig(path.join(projectRoot, 'config', 'sources.demo.yaml'));
    const csv = sources.find((s) => s.id === 'csv-assets');
    assert.ok(csv);
    assert.deepEqual(csv.location, { type: 'file', path: path.join(projectRoot, 'data', 'demo', 'assets.csv') });
    assert.equal(csv.deletePolicy, 'snapshot');
    assert.equal(csv.maxDeleteRatio, 0.2);
  });

  it('names the file, the source and the field in every error', () => {
    const bad = 'sources:\n  - id: prices\n    kind: csv\n    url: x.csv\n    delete_policy: sometimes\n';
    assert.throws(
      () => parseSourcesConfig(bad, '/etc/etl/sources.yaml'),
      (error: Error) => {
        assert.ok(error instanceof SourcesConfigError);
        assert.match(error.message, /^\/etc\/etl\/sources\.yaml: source 'prices': field 'delete_policy'/);
        return true;
      },
    );
    assert.throws(
      () => parseSourcesConfig('sources:\n  - kind: csv\n    url: x.csv\n', 'f.yaml'),
      /f\.yaml: sources\[0\]: field 'id'/,
    );
    assert.throws(
      () => parseSourcesConfig('sources:\n  - id: a\n    kind: csv\n    url: x\n    colour: red\n', 'f.yaml'),
      /source 'a'.*colour/,
    );
    assert.throws(
      () => parseSourcesConfig('sources:\n  - {id: a, kind: csv, url: x}\n  - {id: a, kind: csv, url: y}\n', 'f.yaml'),
      /source 'a': field 'id': duplicate/,
    );
    assert.throws(() => parseSourcesConfig('sources: [', 'f.yaml'), /f\.yaml: not valid YAML/);
    assert.throws(() => loadSourcesConfig('/nonexistent/sources.yaml'), /\/nonexistent\/sources\.yaml: cannot read/);
  });

  it('takes an IANA time zone for zone-less timestamps, and refuses anything else naming the field', () => {
    const [berlin] = parseSourcesConfig(
      'sources:\n  - {id: n, kind: rss, url: n.rss, timezone: Europe/Berlin}\n',
      '/tmp/f.yaml',
    );
    assert.equal(berlin!.timeZone, 'Europe/Berlin');
    assert.equal(
      parseSourcesConfig('sources:\n  - {id: n, kind: rss, url: n.rss}\n', '/tmp/f.yaml')[0]!.timeZone,
      undefined,
    );
    for (const zone of ['CEST', '+02:00', 'Europe/Atlantis']) {
      assert.throws(
        () => parseSourcesConfig(`sources:\n  - {id: n, kind: rss, url: n.rss, timezone: '${zone}'}\n`, '/tmp/f.yaml'),
        /source 'n': field 'timezone': not an IANA time zone/,
        zone,
      );
    }
  });

  it('keeps http(s) URLs as URLs', () => {
    const [s] = parseSourcesConfig(
      'sources:\n  - {id: remote, kind: csv, url: "https://example.com/a.csv"}\n',
      '/x/f.yaml',
    );
    assert.deepEqual(s!.location, { type: 'http', url: 'https://example.com/a.csv' });
  });
});
