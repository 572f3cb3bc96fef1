// Identity rules without a database: what links, what is left alone, and the near-miss evidence a record
// left alone keeps for review (GET /entities/review). Precision first: a near miss never links and never
// stops a link.
import assert from 'node:assert/strict';
import {
  LINK_THRESHOLD,
  REVIEW_FLOOR,
  decide,
  scoreArticle,
  scoreAsset,
  type Candidate,
  type IdentitySide,
} from '../../src/identity/rules.ts';

let nextId = 1;
function asset(sourceId: string, symbol: string, name: string, extra: Partial<IdentitySide> = {}): IdentitySide {
  const id = nextId++;
  return {
    recordId: id,
    sourceId,
    sourceKey: `${symbol.toLowerCase()}-${id}`,
    symbol,
    name,
    rank: null,
    marketCapUsd: null,
    title: null,
    publishedAt: null,
    matchKey: null,
    ...extra,
  };
}
function article(
  sourceId: string,
  title: string,
  publishedAt: string,
  extra: Partial<IdentitySide> = {},
): IdentitySide {
  const id = nextId++;
  return {
    recordId: id,
    sourceId,
    sourceKey: `story-${id}`,
    symbol: null,
    name: null,
    rank: null,
    marketCapUsd: null,
    title,
    publishedAt,
    matchKey: `https://example.com/${id}`,
    ...extra,
  };
}
const candidate = (side: IdentitySide, entityId: number): Candidate => ({ ...side, entityId });
const none = { forced: new Map<number, Candidate>(), forbidden: new Map<number, Set<number>>() };
type Review = {
  reason: string;
  entity_id: number;
  record_id: number;
  confidence: number;
  rule: string;
  evidence: Record<string, unknown>;
};
const reviewOf = (evidence: Record<string, unknown>) => evidence.review as Review | undefined;

describe('identity rules', () => {
  describe('scoring a pair', () => {
    it('links what it linked before: the same slug and symbol, or the same symbol and name', () => {
      assert.equal(
        scoreAsset(
          asset('a', 'BTC', 'Bitcoin', { matchKey: 'bitcoin' }),
          asset('b', 'BTC', 'Bitcoin', { matchKey: 'bitcoin' }),
        )?.rule,
        'crosswalk',
      );
      assert.equal(
        scoreAsset(asset('a', 'PAX', 'Paxos Standard'), asset('b', 'PAX', 'Paxos Standard Token'))?.rule,
        'symbol+name',
      );
      const close = scoreAsset(
        asset('a', 'ABC', 'Alphabet Coin', { rank: 10 }),
        asset('b', 'ABC', 'Alphabit Coins', { rank: 11 }),
      );
      assert.ok(close && close.confidence >= LINK_THRESHOLD, JSON.stringify(close));
    });

    it('scores a same-symbol pair whose names are only partly alike as a near miss, below the link threshold', () => {
      const miss = scoreAsset(asset('a', 'BTC', 'Bitcoin'), asset('b', 'BTC', 'Bitcoin Cash'));
      assert.equal(miss?.rule, 'near_miss');
      assert.ok(miss!.confidence >= REVIEW_FLOOR && miss!.confidence < LINK_THRESHOLD, `${miss!.confidence}`);
      assert.deepEqual(miss!.evidence.symbol, ['BTC', 'BTC']);
      assert.ok((miss!.evidence.name_similarity as number) > 0.5 && (miss!.evidence.name_similarity as number) < 0.75);
    });

    it('a market that agrees raises a near miss, and nothing near a miss reaches the threshold', () => {
      const apart = scoreAsset(asset('a', 'BTC', 'Bitcoin'), asset('b', 'BTC', 'Bitcoin Cash'))!;
      const agreeing = scoreAsset(
        asset('a', 'BTC', 'Bitcoin', { rank: 3 }),
        asset('b', 'BTC', 'Bitcoin Cash', { rank: 4 }),
      )!;
      assert.ok(agreeing.confidence > apart.confidence);
      // the same slug with another symbol and a name almost alike: as close as a miss gets
      const slug = scoreAsset(
        asset('a', 'XBT', 'Bitcoins', { matchKey: 'bitcoin', rank: 1 }),
        asset('b', 'BTC', 'Bitcoin', { matchKey: 'bitcoin', rank: 1 }),
      )!;
      assert.equal(slug.rule, 'near_miss');
      assert.ok(slug.confidence < LINK_THRESHOLD);
    });

    it('is not even a near miss without a shared symbol or slug, or with unrelated names', () => {
      assert.equal(
        scoreAsset(asset('a', 'BTC', 'Bitcoin'), asset('b', 'XBT', 'Bitcoin')),
        null,
        'a name alone is nothing',
      );
      assert.equal(scoreAsset(asset('a', 'ONE', 'Harmony'), asset('b', 'ONE', 'Menlo One')), null);
    });

    it('articles: the same title within two days links; a similar title two days off is a near miss', () => {
      const u = article('feed-b', 'Bitcoin holds above $30,000 again', '2021-06-26T03:40:00Z');
      assert.equal(
        scoreArticle(article('feed-a', 'Bitcoin holds above $30,000 again!', '2021-06-25T03:40:00Z'), u)?.rule,
        'title+date',
      );
      const miss = scoreArticle(u, article('feed-a', 'Bitcoin holds above $32,000', '2021-06-24T03:40:00Z'));
      assert.equal(miss?.rule, 'near_miss');
      assert.ok(miss!.confidence >= REVIEW_FLOOR && miss!.confidence < LINK_THRESHOLD);
      assert.equal(miss!.evidence.hours_apart, 48);
      assert.equal(
        scoreArticle(u, article('feed-a', 'Regulators weigh new stablecoin rules', '2021-06-25T03:40:00Z')),
        null,
      );
    });
  });

  describe('deciding', () => {
    it('leaves a near miss on its own, with the best candidate, its score and evidence for review', async () => {
      const u = asset('b', 'BTC', 'Bitcoin Cash');
      const [weak, better] = [
        asset('a', 'BTC', 'Bitcoin Cashless Token Thing'),
        asset('a', 'BTC', 'Bitcoin', { rank: 1 }),
      ];
      const [d] = await decide(
        'asset',
        [{ ...u, rank: 2 }],
        new Map([[u.recordId, [candidate(weak, 7), candidate(better, 8)]]]),
        none,
      );
      assert.equal(d!.entityId, null);
      assert.equal(d!.rule, 'new');
      const review = reviewOf(d!.evidence)!;
      assert.equal(review.reason, 'near_miss');
      assert.equal(review.entity_id, 8);
      assert.equal(review.record_id, better.recordId);
      assert.ok(review.confidence >= REVIEW_FLOOR && review.confidence < LINK_THRESHOLD);
      assert.deepEqual(review.evidence.name, ['Bitcoin Cash', 'Bitcoin']);
    });

    it('keeps no review evidence when nothing came close', async () => {
      const u = asset('b', 'ONE', 'Harmony');
      const [d] = await decide(
        'asset',
        [u],
        new Map([[u.recordId, [candidate(asset('a', 'ONE', 'Menlo One'), 3)]]]),
        none,
      );
      assert.deepEqual(d!.evidence, {});
    });

    it('a near miss never makes a link ambiguous, nor links instead of it', async () => {
      const u = asset('b', 'ABC', 'Alphabet Coin', { rank: 10, matchKey: 'alphabet' });
      const linkable = asset('a', 'ABC', 'Alphabit Coins', { rank: 11 });
      // the same slug under another symbol: as close as a miss gets, within the ambiguity margin of the link
      const near = asset('c', 'ABCX', 'Alphabet Cash', { rank: 10, matchKey: 'alphabet' });
      assert.ok(
        scoreAsset(u, near)!.confidence < LINK_THRESHOLD &&
          scoreAsset(u, near)!.confidence > scoreAsset(u, linkable)!.confidence - 0.05,
      );
      const [d] = await decide(
        'asset',
        [u],
        new Map([[u.recordId, [candidate(near, 5), candidate(linkable, 6)]]]),
        none,
      );
      assert.equal(d!.entityId, 6);
      assert.equal(d!.rule, scoreAsset(u, linkable)!.rule);
      assert.equal(reviewOf(d!.evidence), undefined);
    });

    it('ambiguous and lost records keep their best candidate for review too', async () => {
      const u = asset('b', 'BTC', 'Bitcoin');
      const [x, y] = [asset('a', 'BTC', 'Bitcoin'), asset('c', 'BTC', 'Bitcoin')];
      const [ambiguous] = await decide('asset', [u], new Map([[u.recordId, [candidate(x, 1), candidate(y, 2)]]]), none);
      assert.equal(ambiguous!.entityId, null);
      assert.equal(reviewOf(ambiguous!.evidence)?.reason, 'ambiguous');
      assert.equal((ambiguous!.evidence.ambiguous as unknown[]).length, 2);

      // two records of one source for one entity: the stronger keeps it
      const strong = asset('b', 'ETH', 'Ethereum', { matchKey: 'ethereum' });
      const weak = asset('b', 'ETH', 'Ethereum');
      const target = asset('a', 'ETH', 'Ethereum', { matchKey: 'ethereum' });
      const decisions = await decide(
        'asset',
        [strong, weak],
        new Map([
          [strong.recordId, [candidate(target, 9)]],
          [weak.recordId, [candidate(target, 9)]],
        ]),
        none,
      );
      assert.equal(decisions[0]!.entityId, 9);
      assert.equal(decisions[1]!.entityId, null);
      const lost = reviewOf(decisions[1]!.evidence)!;
      assert.equal(lost.reason, 'lost_to');
      assert.equal(lost.entity_id, 9);
      assert.equal(lost.record_id, target.recordId);
      assert.ok(lost.confidence >= LINK_THRESHOLD);
      assert.equal(decisions[1]!.evidence.lost_to, strong.recordId);
    });

    it('a near miss whose entity another record of the source takes gives way to the next one', async () => {
      const linked = asset('b', 'UNI', 'Uniswap');
      const alone = asset('b', 'UNI', 'Uniswap Universe Coin');
      const [uniswap, other] = [asset('a', 'UNI', 'Uniswap'), asset('c', 'UNI', 'Universe Coin')];
      const decisions = await decide(
        'asset',
        [linked, alone],
        new Map([
          [linked.recordId, [candidate(uniswap, 1)]],
          [alone.recordId, [candidate(uniswap, 1), candidate(other, 2)]],
        ]),
        none,
      );
      assert.equal(decisions[0]!.entityId, 1);
      assert.equal(decisions[1]!.entityId, null);
      assert.equal(reviewOf(decisions[1]!.evidence)?.entity_id, 2);
    });

    it('forbidden entities are no near miss; a force wins over everything', async () => {
      const u = asset('b', 'BTC', 'Bitcoin Cash');
      const c = candidate(asset('a', 'BTC', 'Bitcoin'), 4);
      const [forbidden] = await decide('asset', [u], new Map([[u.recordId, [c]]]), {
        forced: new Map(),
        forbidden: new Map([[u.recordId, new Set([4])]]),
      });
      assert.deepEqual(forbidden!.evidence, { forbidden_entities: [4] });
      const [forced] = await decide('asset', [u], new Map([[u.recordId, [c]]]), {
        forced: new Map([[u.recordId, c]]),
        forbidden: new Map(),
      });
      assert.equal(forced!.entityId, 4);
      assert.equal(forced!.rule, 'override');
    });

    it('over many pairs, every link scores at the threshold and every near miss below it', async () => {
      const names = [
        'Bitcoin',
        'Bitcoin Cash',
        'Bitcoin Gold',
        'Bit Coin',
        'Bitcoin Token',
        'Bitcoins',
        'BitCore',
        'Wrapped Bitcoin',
      ];
      const unresolved = names.map((name, i) => asset('b', i % 2 ? 'BTC' : 'WBTC', name, { rank: i + 1 }));
      const others = names.map((name, i) =>
        candidate(asset('a', i % 3 ? 'BTC' : 'WBTC', name, { rank: 2 * i + 1 }), 100 + i),
      );
      const decisions = await decide('asset', unresolved, new Map(unresolved.map((u) => [u.recordId, others])), none);
      for (const d of decisions) {
        if (d.entityId !== null) assert.ok(d.confidence >= LINK_THRESHOLD, JSON.stringify(d));
        const review = reviewOf(d.evidence);
        if (review?.reason === 'near_miss')
          assert.ok(review.confidence >= REVIEW_FLOOR && review.confidence < LINK_THRESHOLD, JSON.stringify(review));
      }
      assert.ok(decisions.some((d) => d.entityId !== null));
      assert.ok(decisions.some((d) => reviewOf(d.evidence)?.reason === 'near_miss'));
    });
  });
});
