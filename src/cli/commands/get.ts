/**
 * `starget get IMAGE [BLOB_DIGEST] PATTERN [OUTPUT]` and `starget get IMAGE PATTERN... -o DIR`:
 * extracts files, with a progress bar on a terminal and a summary line at the end.
 */

import type { GetEvent, GetResult } from '../../starget.js';
import { planGetArguments } from '../get-args.js';
import { writeOut } from '../io.js';
import { formatSummary, ProgressBar, type RunSummary } from '../progress.js';
import { openSessionImage, type Session } from '../session.js';

/** The `get --json` object. */
export function getResultJson(result: GetResult, summary: RunSummary): Record<string, unknown> {
  return {
    outDir: result.outDir,
    files: result.files,
    dirs: result.dirs,
    symlinks: result.symlinks,
    hardlinks: result.hardlinks,
    specials: result.specials,
    skipped: result.skipped,
    bytesWritten: result.bytesWritten,
    bytesFetched: summary.bytesFetched,
    requests: summary.requests,
    seconds: Math.round(summary.seconds * 1000) / 1000,
    wholeBlobLayers: result.wholeBlobLayers,
    warnings: result.warnings.map((w) => ({ code: w.code, path: w.path, message: w.message })),
  };
}

/** The options of `starget get` as commander gives them (`--no-resume` sets resume to false). */
export interface GetCommandOptions {
  output?: string;
  layer?: string;
  sameOwner?: boolean;
  resume?: boolean;
  dereference?: boolean;
}

export async function runGet(session: Session, args: string[], options: GetCommandOptions): Promise<void> {
  const { io, settings, logger, globals } = session;
  const [reference, ...rest] = args;
  const plan = planGetArguments(rest, options);
  const started = performance.now();
  const image = await openSessionImage(
    session,
    reference!,
    plan.layer !== undefined ? { layer: plan.layer } : {},
  );
  const showBar = !settings.noProgress && !globals.json && io.stderr.isTTY === true;
  const bar = showBar ? new ProgressBar(io.stderr) : undefined;
  if (bar) session.setBeforeLog(() => bar.clear());
  const onEvent = (event: GetEvent): void => {
    switch (event.type) {
      case 'plan':
        bar?.update({ bytesTotal: event.bytes, filesTotal: event.files }, true);
        break;
      case 'progress':
        bar?.update({
          bytesDone: event.bytesWritten,
          filesDone: event.filesDone,
          filesTotal: event.filesTotal,
          ...(event.currentFile ? { currentFile: event.currentFile } : {}),
        });
        break;
      case 'warning':
        logger.warn(event.warning.message, { path: event.warning.path, code: event.warning.code });
        break;
      case 'fallback-whole-blob':
        logger.info('the registry ignored Range: streaming the whole layer once', {
          layer: event.layerDigest,
        });
        break;
      case 'file-done':
        logger.debug('written', { path: event.path });
        break;
    }
  };
  try {
    const handle = image.get(plan.patterns, plan.output, {
      layout: plan.mode,
      concurrency: settings.concurrency,
      ...(globals.skipVerify ? { skipVerify: true } : {}),
      ...(options.sameOwner ? { preserveOwner: true } : {}),
      ...(options.dereference ? { dereference: true } : {}),
      ...(options.resume === false ? { resume: false } : {}),
      signal: session.signal,
      onEvent,
    });
    const result = await handle.done;
    bar?.finish();
    const stats = image.stats();
    const summary: RunSummary = {
      files: result.files + result.symlinks + result.hardlinks + result.specials,
      bytesWritten: result.bytesWritten,
      bytesFetched: stats.bytesReceived,
      requests: stats.requests,
      seconds: (performance.now() - started) / 1000,
    };
    if (globals.json) await writeOut(io.stdout, `${JSON.stringify(getResultJson(result, summary))}\n`);
    else if (bar) io.stderr.write(`${formatSummary(summary)}\n`);
    else logger.info(formatSummary(summary));
  } finally {
    bar?.clear();
    session.setBeforeLog(undefined);
    await image.close();
  }
}
