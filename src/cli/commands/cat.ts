/** `starget cat IMAGE FILE`: the raw bytes of one regular file to stdout. */

import { openSessionImage, type Session } from '../session.js';

export async function runCat(session: Session, args: string[], options: { layer?: string }): Promise<void> {
  const [reference, path] = args;
  const image = await openSessionImage(
    session,
    reference!,
    options.layer !== undefined ? { layer: options.layer } : {},
  );
  try {
    const result = await image.cat(path!, session.io.stdout, {
      ...(session.globals.skipVerify ? { skipVerify: true } : {}),
      signal: session.signal,
    });
    session.logger.info('cat done', {
      path,
      bytes: result.bytesWritten,
      fetched: result.bytesFetched,
      requests: result.requests,
    });
  } finally {
    await image.close();
  }
}
