// X-API-Key for the write endpoints. Compared in constant time: both sides are hashed to SHA-256 first, so
// timingSafeEqual always sees equal lengths and the comparison leaks neither the key nor its length.
// Without a configured API_KEY every write is refused. The key is never logged (see the request serializer).
import type { RequestHandler } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from './http.ts';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function requireApiKey(apiKey: string | undefined): RequestHandler {
  const expected = apiKey ? digest(apiKey) : null;
  return (req, _res, next) => {
    const given = req.get('x-api-key');
    if (expected && given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    next(
      new ProblemError(
        401,
        'a valid X-API-Key header is required for this endpoint',
        {},
        { 'WWW-Authenticate': 'ApiKey header="X-API-Key"' },
      ),
    );
  };
}
