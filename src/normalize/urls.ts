// Canonical URLs: the same article reached through a tracking link, with a fragment or a trailing slash,
// or with an upper-case host, must get the same key.
const TRACKING = /^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref_src)$/i;

export function canonicalUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return raw.trim();
  }
  url.hash = '';
  for (const name of [...url.searchParams.keys()]) if (TRACKING.test(name)) url.searchParams.delete(name);
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) url.pathname = url.pathname.replace(/\/+$/, '');
  // URL already lower-cases scheme and host and drops default ports
  return url.toString().replace(/\?$/, '');
}
