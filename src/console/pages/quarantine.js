// Quarantine: which records were refused, and why, with the fields as the source sent them. Filtered by
// source, run and reason on the server, paged by its cursor ("More" fetches the next page).
import { get } from '../api.js';
import { failure, fill, h } from '../dom.js';
import { quarantineTable } from './runs.js';

const PAGE = 50;

export async function render(page, { query }) {
  const filter = {
    source: query.get('source') ?? '',
    run_id: query.get('run_id') ?? '',
    reason: query.get('reason') ?? '',
  };
  const [sources, first] = await Promise.all([get('/sources'), get('/quarantine', { ...filter, limit: PAGE })]);

  const select = h(
    'select',
    { name: 'source', 'aria-label': 'source' },
    h('option', { value: '' }, 'every source'),
    sources.data.map((s) => h('option', { value: s.id, selected: s.id === filter.source }, s.id)),
  );
  const runInput = h('input', {
    name: 'run_id',
    type: 'number',
    min: 1,
    value: filter.run_id,
    placeholder: 'run',
    'aria-label': 'run id',
  });
  const reasonInput = h('input', {
    name: 'reason',
    type: 'search',
    value: filter.reason,
    placeholder: 'reason contains…',
    'aria-label': 'reason',
  });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event) => {
        event.preventDefault();
        const params = new URLSearchParams();
        for (const [name, input] of [
          ['source', select],
          ['run_id', runInput],
          ['reason', reasonInput],
        ])
          if (input.value.trim()) params.set(name, input.value.trim());
        window.location.hash = `#/quarantine${params.size ? `?${params}` : ''}`;
      },
    },
    select,
    runInput,
    reasonInput,
    h('button', { type: 'submit' }, 'Filter'),
  );

  const rows = [...first.data];
  const list = h('div', { class: 'list' }, quarantineTable(rows));
  const more = h('div', {});
  const showMore = (cursor) => {
    more.replaceChildren();
    if (!cursor) return;
    const button = h('button', { type: 'button', class: 'quiet' }, 'More');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const next = await get('/quarantine', { ...filter, limit: PAGE, cursor });
        rows.push(...next.data);
        list.replaceChildren(quarantineTable(rows));
        showMore(next.next_cursor);
      } catch (error) {
        more.replaceChildren(failure(error));
      }
    });
    more.append(button);
  };
  showMore(first.next_cursor);
  fill(
    page,
    h('h1', {}, 'Quarantine'),
    h('p', { class: 'muted' }, 'Records a run refused, newest first, with the fields as the source sent them.'),
    form,
    list,
    more,
  );
}
