// Reads a JSON array of records as a stream: one record in memory at a time, numbers kept as the exact
// text the source sent (2e-8 stays 2e-8, 0.1234567890123456789 keeps every digit).
import { pipeline, type Readable } from 'node:stream';
import { parser } from 'stream-json';
import { streamArray } from 'stream-json/streamers/stream-array.js';
import { UnreadablePayloadError, type SourceFields } from './types.ts';

export async function* readJsonArray(document: Readable): AsyncIterable<SourceFields> {
  // pipeline destroys every stage on an error, so a bad byte anywhere ends the iteration with that error
  const items = pipeline(
    document,
    parser.asStream(),
    streamArray.asStream({ numberAsString: true }),
    () => {},
  ) as AsyncIterable<{ value: unknown }>;
  for await (const { value } of items) {
    yield value !== null && typeof value === 'object' && !Array.isArray(value)
      ? flatten(value as Record<string, unknown>)
      : { value };
  }
}

/** Objects nested deeper than this in one record are refused: no market API nests more than a few levels. */
export const MAX_JSON_DEPTH = 32;

/** {quotes: {USD: {price: 1}}} → {'quotes.USD.price': 1}; arrays stay whole. */
export function flatten(
  object: Record<string, unknown>,
  prefix = '',
  into: SourceFields = {},
  depth = 1,
): SourceFields {
  if (depth > MAX_JSON_DEPTH)
    throw new UnreadablePayloadError(
      `a record nests objects deeper than ${MAX_JSON_DEPTH} levels (at ${prefix.slice(0, 100)})`,
    );
  for (const [key, value] of Object.entries(object)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0)
      flatten(value as Record<string, unknown>, name, into, depth + 1);
    else into[name] = value;
  }
  return into;
}
