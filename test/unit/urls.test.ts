import assert from 'node:assert/strict';
import { canonicalUrl } from '../../src/normalize/urls.ts';

describe('canonical URLs', () => {
  it('drops tracking parameters, fragments and trailing slashes and lower-cases the host', () => {
    assert.equal(
      canonicalUrl('https://NEWS.Example.com/a/b/?utm_source=rss&utm_medium=feed&id=7#top'),
      'https://news.example.com/a/b?id=7',
    );
    assert.equal(canonicalUrl('https://example.com/?fbclid=1'), 'https://example.com/');
    assert.equal(canonicalUrl('  https://example.com/Path/Case  '), 'https://example.com/Path/Case');
    assert.equal(canonicalUrl('not a url'), 'not a url');
  });
});
