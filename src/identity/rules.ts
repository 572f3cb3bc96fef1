// Identity resolution rules: which canonical entity a record describes. Precision first: a false merge
// (two coins made one) is worse than a miss (one coin left as two entities), so every rule needs more than
// a shared symbol, and a record whose best two candidates score alike is left on its own. The database
// applies them set-based (src/db/identity.ts); the resolveEntities activity (src/activities/identity.ts) runs that.
import { nameSimilarity, words } from '../normalize/mapping.ts';
import type { NormalizedRecord, RecordKind } from '../normalize/record.ts';

/** A link is made at or above this confidence. */
export const LINK_THRESHOLD = 0.8;
/** The best candidate must beat the runner-up (another entity) by this much, or nothing is linked. */
const AMBIGUITY_MARGIN = 0.05;
/**
 * A candidate scoring at least this, but below LINK_THRESHOLD, is a near miss: never linked, only kept in the
 * evidence of the record left on its own, so an operator can review it (GET /entities/review).
 */
export const REVIEW_FLOOR = 0.5;
/** A near miss always scores below the threshold, so the score alone says it was not linked. */
const NEAR_MISS_CEILING = LINK_THRESHOLD - 0.01;
/** The rule name of a scored pair that does not link. */
export const NEAR_MISS = 'near_miss';

/** The record fields identity resolution looks at. */
export interface IdentitySide {
  recordId: number;
  sourceId: string;
  sourceKey: string;
  symbol: string | null;
  name: string | null;
  rank: number | null;
  marketCapUsd: string | null;
  title: string | null;
  publishedAt: string | null;
  matchKey: string | null;
}
export interface Candidate extends IdentitySide {
  entityId: number;
}
export interface Match {
  rule: string;
  confidence: number;
  evidence: Record<string, unknown>;
}
export interface Decision extends Match {
  recordId: number;
  /** null: no candidate was good enough; a new entity is created. */
  entityId: number | null;
}

const squash = (text: string) =>
  text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]/g, '');

/**
 * A source-independent identifier. Assets: the coin's slug, the same across CoinGecko (`bitcoin`) and
 * CoinPaprika (`btc-bitcoin`, whose id is the symbol then the slug); none for a file keyed by symbols,
 * since a symbol is not an identity. Articles: the canonical URL.
 */
export function matchKeyOf(
  kind: RecordKind,
  record: NormalizedRecord,
  keyedBySymbol: boolean,
  sourceKind: string,
): string | null {
  if (kind === 'article') return record.url ?? (/^https?:\/\//.test(record.sourceKey) ? record.sourceKey : null);
  if (keyedBySymbol) return null;
  let key = record.sourceKey.toLowerCase();
  const prefix = `${record.symbol?.toLowerCase()}-`;
  if (sourceKind === 'coinpaprika' && key.startsWith(prefix)) key = key.slice(prefix.length);
  return squash(key) || null;
}

// words that name what a project is rather than which one it is ("Paxos Standard Token", "Pirate Chain")
const GENERIC = new Set(['token', 'coin', 'network', 'protocol', 'chain', 'finance', 'the']);

/** Name similarity, also with generic words dropped (slightly discounted), when something is left of both. */
export function assetNameSimilarity(a: string, b: string): number {
  const plain = nameSimilarity(a, b);
  const [sa, sb] = [a, b].map((name) =>
    words(name)
      .filter((w) => !GENERIC.has(w))
      .join(' '),
  );
  return sa && sb ? Math.max(plain, 0.95 * nameSimilarity(sa, sb)) : plain;
}

export function scoreAsset(u: IdentitySide, c: IdentitySide): Match | null {
  const sameSymbol = !!u.symbol && u.symbol === c.symbol;
  const sameKey = !!u.matchKey && u.matchKey === c.matchKey;
  const nameSim = u.name && c.name ? round(assetNameSimilarity(u.name, c.name)) : 0;
  const market = marketAgreement(u, c);
  const evidence = {
    symbol: [u.symbol, c.symbol],
    name: [u.name, c.name],
    name_similarity: nameSim,
    match_key: sameKey ? u.matchKey : null,
    ...market.evidence,
  };
  if (sameKey && sameSymbol) return { rule: 'crosswalk', confidence: 0.99, evidence };
  if (sameKey && nameSim >= 0.9) return { rule: 'crosswalk+name', confidence: 0.9, evidence };
  if (sameSymbol && nameSim >= 0.9) return { rule: 'symbol+name', confidence: market.agrees ? 0.9 : 0.85, evidence };
  // a close but different name needs the market to agree as well
  if (sameSymbol && nameSim >= 0.75 && market.agrees) return { rule: 'symbol+name+market', confidence: 0.8, evidence };
  // no rule holds: how close it came, for review. A shared symbol or slug is where it starts (a symbol is
  // weaker: unrelated projects share them); the names and the market add to it
  if (!sameSymbol && !sameKey) return null;
  return nearMiss((sameKey ? 0.45 : 0) + (sameSymbol ? 0.3 : 0) + 0.4 * nameSim + (market.agrees ? 0.1 : 0), evidence);
}

export function scoreArticle(u: IdentitySide, c: IdentitySide): Match | null {
  if (u.matchKey && u.matchKey === c.matchKey)
    return { rule: 'canonical_url', confidence: 0.99, evidence: { url: u.matchKey } };
  if (!u.title || !c.title || !u.publishedAt || !c.publishedAt) return null;
  const titleSim = round(nameSimilarity(u.title, c.title));
  const hours = Math.abs(Date.parse(u.publishedAt) - Date.parse(c.publishedAt)) / 3_600_000;
  const evidence = { title: [u.title, c.title], title_similarity: titleSim, hours_apart: round(hours) };
  if (titleSim >= 0.9 && hours <= 48) return { rule: 'title+date', confidence: 0.85, evidence };
  // the title is most of it; the further apart in time, the less alike
  return nearMiss(0.85 * titleSim - 0.05 * Math.min(hours / 48, 1), evidence);
}

/** A pair that does not link, scored for review when it is close enough; null below REVIEW_FLOOR. */
function nearMiss(score: number, evidence: Record<string, unknown>): Match | null {
  return score >= REVIEW_FLOOR
    ? { rule: NEAR_MISS, confidence: round(Math.min(score, NEAR_MISS_CEILING)), evidence }
    : null;
}

/** Rank or market cap close enough to say "same coin" (they are compared only when both sides have them). */
function marketAgreement(u: IdentitySide, c: IdentitySide): { agrees: boolean; evidence: Record<string, unknown> } {
  const evidence: Record<string, unknown> = {};
  let agrees = false;
  if (u.rank && c.rank) {
    evidence.rank = [u.rank, c.rank];
    agrees ||= Math.abs(u.rank - c.rank) <= Math.max(5, 0.2 * Math.min(u.rank, c.rank));
  }
  const [a, b] = [Number(u.marketCapUsd), Number(c.marketCapUsd)];
  if (a > 0 && b > 0) {
    evidence.market_cap_ratio = round(Math.max(a, b) / Math.min(a, b));
    agrees ||= Math.max(a, b) / Math.min(a, b) <= 1.5;
  }
  return { agrees, evidence };
}

/**
 * Decides each unresolved record: the best candidate entity above the threshold, unless another entity
 * scores within the margin (ambiguous), unless an operator forbade it; forced links win. An entity takes at
 * most one record from each source, so two records of one source never end up as one thing.
 */
/** Records judged between two turns of the event loop: the stage's keep-alive heartbeat must get its turn. */
const YIELD_EVERY = 2000;

export async function decide(
  kind: RecordKind,
  unresolved: IdentitySide[],
  candidates: Map<number, Candidate[]>,
  overrides: { forced: Map<number, Candidate>; forbidden: Map<number, Set<number>> },
): Promise<Decision[]> {
  const score = kind === 'asset' ? scoreAsset : scoreArticle;
  const proposals: Decision[] = [];
  // what each proposal links to, and each record's near misses (best first): the review evidence of a record left alone
  const linkedWith = new Map<Decision, Candidate>();
  const nearMisses = new Map<Decision, Scored[]>();
  for (const [i, u] of unresolved.entries()) {
    if (i > 0 && i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    const forced = overrides.forced.get(u.recordId);
    if (forced) {
      proposals.push({
        recordId: u.recordId,
        entityId: forced.entityId,
        rule: 'override',
        confidence: 1,
        evidence: { forced_with: [forced.sourceId, forced.sourceKey] },
      });
      continue;
    }
    const forbidden = overrides.forbidden.get(u.recordId) ?? new Set<number>();
    const best = new Map<number, Scored>();
    const near = new Map<number, Scored>();
    for (const c of candidates.get(u.recordId) ?? []) {
      if (forbidden.has(c.entityId)) continue;
      const match = score(u, c);
      if (!match) continue;
      // only scores at the threshold compete for the link (and for ambiguity): a near miss never changes what links
      const into = match.confidence >= LINK_THRESHOLD ? best : near;
      if (isBetter(match, c, into.get(c.entityId))) into.set(c.entityId, { ...match, with: c });
    }
    const ranked = [...best.values()].sort(byScore);
    const [top, second] = ranked;
    let proposal: Decision;
    if (!top) {
      proposal = {
        recordId: u.recordId,
        entityId: null,
        rule: 'new',
        confidence: 1,
        evidence: forbidden.size ? { forbidden_entities: [...forbidden] } : {},
      };
      nearMisses.set(proposal, [...near.values()].sort(byScore));
    } else if (second && second.confidence >= top.confidence - AMBIGUITY_MARGIN) {
      const tied = ranked
        .filter((m) => m.confidence >= top.confidence - AMBIGUITY_MARGIN)
        .map((m) => ({
          entity: m.with.entityId,
          rule: m.rule,
          confidence: m.confidence,
          with: [m.with.sourceId, m.with.sourceKey],
          record_id: m.with.recordId,
        }));
      proposal = {
        recordId: u.recordId,
        entityId: null,
        rule: 'new',
        confidence: 1,
        evidence: { ambiguous: tied, review: review('ambiguous', top) },
      };
    } else {
      const { with: c, ...match } = top;
      proposal = {
        recordId: u.recordId,
        entityId: c.entityId,
        ...match,
        evidence: { ...match.evidence, matched: [c.sourceId, c.sourceKey] },
      };
      linkedWith.set(proposal, c);
    }
    proposals.push(proposal);
  }
  // two records of this source must not share an entity: the stronger one keeps it, the other stands alone
  const taken = new Map<number, Decision>();
  for (const d of [...proposals].sort((a, b) => b.confidence - a.confidence)) {
    if (d.entityId === null) continue;
    const holder = taken.get(d.entityId);
    const c = linkedWith.get(d);
    if (holder) {
      const lost: Record<string, unknown> = { lost_to: holder.recordId, would_have_been: d.evidence };
      if (c) lost.review = review('lost_to', { rule: d.rule, confidence: d.confidence, evidence: d.evidence, with: c });
      Object.assign(d, { entityId: null, rule: 'new', confidence: 1, evidence: lost });
    } else taken.set(d.entityId, d);
  }
  // a near miss with an entity another record of this source has just taken could not link anyway
  for (const [d, misses] of nearMisses) {
    const miss = misses.find((m) => !taken.has(m.with.entityId));
    if (miss) d.evidence = { ...d.evidence, review: review('near_miss', miss) };
  }
  return proposals;
}

type Scored = Match & { with: Candidate };

/** Higher confidence first; between equals, the lower record id, so the same input always gives the same evidence. */
const byScore = (a: Scored, b: Scored) => b.confidence - a.confidence || a.with.recordId - b.with.recordId;
const isBetter = (match: Match, c: Candidate, held: Scored | undefined) =>
  !held || byScore({ ...match, with: c }, held) < 0;

export type ReviewReason = 'near_miss' | 'ambiguous' | 'lost_to';

/**
 * What an operator reviewing a record left on its own needs (GET /entities/review): why, the best candidate
 * (its entity and record), how it scored and on what evidence.
 */
function review(reason: ReviewReason, m: Scored) {
  return {
    reason,
    entity_id: m.with.entityId,
    record_id: m.with.recordId,
    with: [m.with.sourceId, m.with.sourceKey],
    rule: m.rule,
    confidence: m.confidence,
    evidence: m.evidence,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
