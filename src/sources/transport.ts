// Opens a source location, a local file or an http(s) URL, as one fetched document. Files are streamed in
// 1 MiB chunks so no payload is held whole in memory; their validators come from size and modification time.
import fs from 'node:fs';
import type { SourceConfig } from './config.ts';
import { httpGet } from './http.ts';
import { PermanentSourceError, type FetchContext, type FetchedDocument } from './types.ts';

export const CHUNK_BYTES = 1 << 20;

/** `accept`: the media types an http source may answer with; the first is reported for a file. */
export async function openLocation(
  source: SourceConfig,
  context: FetchContext,
  accept: string[],
): Promise<FetchedDocument> {
  const { location } = source;
  if (location.type === 'http') {
    await context.throttle();
    return httpGet({ source, url: location.url, accept, validators: context.validators, signal: context.signal });
  }
  // a local file can be read on from where an interrupted fetch stopped
  const start = context.resumeAt.document === 0 ? context.resumeAt.byteOffset : 0;
  const stat = await fs.promises.stat(location.path).catch((error: NodeJS.ErrnoException) => {
    // the file as the sources file names it: a server's own paths are not for API clients
    const message = `source '${source.id}': cannot read ${source.url} (${error.code ?? 'error'})`;
    throw error.code === 'ENOENT' || error.code === 'EACCES' ? new PermanentSourceError(message) : new Error(message);
  });
  return {
    url: source.url,
    httpStatus: null,
    contentType: accept[0] ?? null,
    etag: `"${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`,
    lastModified: stat.mtime.toUTCString(),
    notModified: false,
    startOffset: start,
    body: fs.createReadStream(location.path, { start, highWaterMark: CHUNK_BYTES, signal: context.signal }),
  };
}
