// Review: identity resolution's near misses (records left on their own that came close to another
// source's), each with buttons that decide it as an override (POST /overrides, behind the API key), and
// the overrides in force.
import { ApiError, apiKey, get, post } from '../api.js';
import { fill, fmt, h, section, table } from '../dom.js';
import { askForKey } from '../key.js';

const REASONS = {
  near_miss: 'scored just below the link threshold',
  ambiguous: 'two entities scored alike',
  lost_to: 'another record of the same source took the entity',
};

export async function render(page, { query }) {
  const kind = ['asset', 'article'].includes(query.get('kind')) ? query.get('kind') : '';
  const [review, overrides] = await Promise.all([
    get('/entities/review', { kind, limit: 50 }),
    get('/overrides', { limit: 50 }),
  ]);
  const kinds = h(
    'div',
    { class: 'picker', role: 'group', 'aria-label': 'kind' },
    [
      ['', 'all'],
      ['asset', 'assets'],
      ['article', 'articles'],
    ].map(([value, label]) =>
      h(
        'a',
        { href: value ? `#/review?kind=${value}` : '#/review', class: value === kind ? 'active' : undefined },
        label,
      ),
    ),
  );
  fill(
    page,
    h('h1', {}, 'Identity review'),
    h(
      'p',
      { class: 'muted' },
      'Records left on their own whose best candidate of another source came close. Decide each: the same thing (force) or never the same (forbid). Applied at the next run. Needs the API key.',
    ),
    kinds,
    h(
      'div',
      { class: 'review' },
      review.data.length ? review.data.map(reviewItem) : h('p', { class: 'empty' }, 'Nothing to review.'),
    ),
    section(
      'Overrides in force',
      table(
        [
          ['#', (o) => o.id],
          ['Decision', (o) => h('span', { class: `chip ${o.action}` }, o.action)],
          ['Left', (o) => h('code', {}, `${o.left.source}/${o.left.key}`)],
          ['Right', (o) => h('code', {}, `${o.right.source}/${o.right.key}`)],
          ['Reason', (o) => o.reason ?? ''],
          ['Made', (o) => fmt.time(o.created_at)],
        ],
        overrides.data,
        { className: 'overrides', empty: 'No overrides.' },
      ),
    ),
  );
}

const side = (s) =>
  h(
    'div',
    { class: 'side' },
    h('strong', {}, s.source),
    ' ',
    h('code', {}, s.source_key),
    h('div', {}, [s.symbol, s.name ?? s.title].filter(Boolean).join(' · ')),
  );

function reviewItem(item) {
  const kind = item.record.symbol === null && item.record.title !== null ? 'article' : 'asset';
  const status = h('p', { class: 'status', role: 'status' });
  const decide = (action) => async (event) => {
    const buttons = event.target.closest('.actions').querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    status.className = 'status';
    status.textContent = 'sending…';
    try {
      const made = await post(
        '/overrides',
        {
          kind,
          action,
          left: { source: item.record.source, key: item.record.source_key },
          right: { source: item.candidate.source, key: item.candidate.source_key },
          reason: `decided in the console (${item.reason}, score ${item.confidence})`,
        },
        { auth: true },
      );
      status.className = 'status ok';
      status.textContent = `Override ${made.data.id} made: ${made.data.action}. Applied at the next run.`;
      card.classList.add('decided');
    } catch (error) {
      for (const b of buttons) b.disabled = false;
      const refused = error instanceof ApiError && error.status === 401;
      status.className = 'status error';
      status.textContent = refused
        ? `401: ${apiKey.get() ? 'the API key was refused' : 'an API key is needed'} (${error.message}). Enter it and try again.`
        : `${error.status ? `${error.status}: ` : ''}${error.message}`;
      if (refused) void askForKey();
    }
  };
  const card = h(
    'article',
    { class: 'card review-item', 'data-record': item.record.id },
    h(
      'div',
      { class: 'pair' },
      side(item.record),
      h(
        'div',
        { class: 'versus' },
        h('div', { class: 'score' }, fmt.pct(item.confidence, 0)),
        h('div', { class: 'muted' }, item.reason.replaceAll('_', ' ')),
      ),
      side(item.candidate),
    ),
    h('p', { class: 'muted' }, REASONS[item.reason] ?? item.reason, ' · ', evidenceText(item.evidence)),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'force', onclick: decide('force') }, 'Same thing (force)'),
      h(
        'button',
        { type: 'button', 'data-action': 'forbid', class: 'quiet', onclick: decide('forbid') },
        'Not the same (forbid)',
      ),
      h('a', { href: `#/entities/${item.candidate.entity_id}` }, `candidate entity ${item.candidate.entity_id}`),
    ),
    status,
  );
  return card;
}

function evidenceText(evidence) {
  return Object.entries(evidence)
    .filter(([key]) => key !== 'rule' && key !== 'with')
    .map(
      ([key, v]) =>
        `${key}: ${Array.isArray(v) ? v.join(' / ') : v === null ? '–' : typeof v === 'object' ? JSON.stringify(v) : v}`,
    )
    .join(' · ');
}
