// Opens a source location as a fetched document. Files are read as a stream in 1 MiB chunks so that
// no payload is held whole in memory; their validators come from the file's size and modification time.
import fs from 'node:fs';
import type { SourceConfig } from './config.ts';
import { PermanentSourceError, type FetchContext, type FetchedDocument } from './types.ts';

export const CHUNK_BYTES = 1 << 20;

export async function openLocation(source: SourceConfig, context: FetchContext, contentType: string): Promise<FetchedDocument> {
  const { location } = source;
  if (location.type === 'http') {
    throw new PermanentSourceError(`source '${source.id}': http(s) locations are not supported yet (${location.url})`);
  }
  const stat = await fs.promises.stat(location.path).catch((error: NodeJS.ErrnoException) => {
    const message = `source '${source.id}': cannot read ${location.path} (${error.code ?? error.message})`;
    throw error.code === 'ENOENT' || error.code === 'EACCES' ? new PermanentSourceError(message) : new Error(message);
  });
  const lastModified = stat.mtime.toUTCString();
  return {
    url: `file://${location.path}`,
    httpStatus: null,
    contentType,
    etag: `"${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`,
    lastModified,
    notModified: false,
    body: fs.createReadStream(location.path, { highWaterMark: CHUNK_BYTES, signal: context.signal }),
  };
}
