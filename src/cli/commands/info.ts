/** `starget info IMAGE`: manifest digest, platform, and per layer: digest, size, media type, eStargz?, TOC digest. */

import { formatInfo, formatInfoJson } from '../format.js';
import { writeOut } from '../io.js';
import { openSessionImage, type Session } from '../session.js';

export async function runInfo(session: Session, args: string[]): Promise<void> {
  const image = await openSessionImage(session, args[0]!);
  try {
    const info = await image.info();
    await writeOut(session.io.stdout, session.globals.json ? formatInfoJson(info) : formatInfo(info));
  } finally {
    await image.close();
  }
}
