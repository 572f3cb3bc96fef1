// Secrets in URLs: a source may take its key as a query parameter (`?api_key=${KEY}` in the sources file). Every
// URL the pipeline stores, logs, puts in an error or shows in the Web UI goes through redactUrl first.

/** Query parameter names that carry credentials: key, api_key, apiKey, access_token, x-api-key, secret, sig... */
const SECRET_PARAM =
  /(^|[-_.])(api[-_]?key|apikey|key|token|access[-_]?token|auth|secret|password|passwd|pwd|signature|sig|credentials?)$/i;

export const REDACTED = 'REDACTED';

/** The URL with credential-like query values and any password in its user info replaced; not a URL: unchanged. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(an invalid URL)';
  }
  if (parsed.password) parsed.password = REDACTED;
  let changed = !!parsed.password;
  for (const name of new Set(parsed.searchParams.keys())) {
    if (SECRET_PARAM.test(name)) {
      parsed.searchParams.set(name, REDACTED);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/** Text with every occurrence of the given secret values replaced (an error body that echoes a key). */
export function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.replaceAll(secret, REDACTED);
  return out;
}
