// The console's one way to the API: same origin, relative URLs (so it also works behind a path prefix),
// problem documents turned into errors whose message is the problem's detail.

const KEY = 'etl.apiKey';

/** The API key: in this tab's session storage only, never in local storage or a cookie. */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY) ?? '',
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

/** `path` with the defined, non-empty entries of `params` as its query. */
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function request(method, path, { params, body, auth } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && apiKey.get()) headers['X-API-Key'] = apiKey.get();
  // relative to the page: "runs" under http://host/prefix/ is http://host/prefix/runs
  const res = await fetch(url(path.replace(/^\//, ''), params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json?.detail ?? `${method} ${path} answered ${res.status}`, json);
  return json;
}

export const get = (path, params) => request('GET', path, { params });
export const post = (path, body, { auth = false } = {}) => request('POST', path, { body, auth });
