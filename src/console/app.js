// The console's shell: hash routes (#/runs/12, #/entities/23?interval=1d: deep links need nothing of the
// server) and the navigation (the API key dialog is key.js). Each page is a module whose render(main, params) fills
// <main>; when it is done, <main> carries data-ready with the page's name, data-render-ms and data-loaded-ms.
import { failure, h } from './dom.js';
import './key.js';
import * as entity from './pages/entity.js';
import * as overview from './pages/overview.js';
import * as quarantine from './pages/quarantine.js';
import * as review from './pages/review.js';
import * as runs from './pages/runs.js';

const ROUTES = [
  // pattern, page name, its navigation entry, render
  [/^\/?$/, 'overview', 'overview', overview.render],
  [/^\/entities$/, 'entities', 'entities', entity.renderSearch],
  [/^\/entities\/(\d+)$/, 'entity', 'entities', entity.render],
  [/^\/runs$/, 'runs', 'runs', runs.renderList],
  [/^\/runs\/(\d+)$/, 'run', 'runs', runs.render],
  [/^\/quarantine$/, 'quarantine', 'quarantine', quarantine.render],
  [/^\/review$/, 'review', 'review', review.render],
];

const main = document.getElementById('app');
let current = 0;

/** "#/runs/2?x=1" → { path: "/runs/2", query: URLSearchParams }. */
function location() {
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  const token = ++current;
  const started = performance.now();
  const { path, query } = location();
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  main.removeAttribute('data-ready');
  main.setAttribute('aria-busy', 'true');
  for (const link of document.querySelectorAll('nav a'))
    link.classList.toggle('active', link.dataset.nav === found?.[2]);
  const page = h('div', { class: 'page' });
  try {
    if (!found) page.append(failure(new Error(`no page ${path}: try the navigation above`)));
    else {
      const [pattern, name, , render] = found;
      const [, id] = path.match(pattern);
      document.title = `${name} · temporal-etl console`;
      await render(page, { id: id === undefined ? undefined : Number(id), query, stale: () => token !== current });
    }
  } catch (error) {
    page.append(failure(error));
  }
  if (token !== current) return; // a later navigation took over
  main.replaceChildren(page);
  main.dataset.ready = found?.[1] ?? 'not-found';
  main.dataset.renderMs = String(Math.round(performance.now() - started));
  // since the document's navigation began: the page load time of a first visit
  main.dataset.loadedMs = String(Math.round(performance.now()));
  main.setAttribute('aria-busy', 'false');
}

window.addEventListener('hashchange', () => void route());
void route();
