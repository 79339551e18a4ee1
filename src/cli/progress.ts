/** The progress bar and the end-of-run summary of `get`, drawn on stderr when it is a terminal. */

import { formatBytes } from './format.js';

export interface ProgressState {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  /** the file being written most recently, if any */
  currentFile?: string;
}

export interface RunSummary {
  files: number;
  bytesWritten: number;
  bytesFetched: number;
  requests: number;
  seconds: number;
}

/** `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** One progress line fitted to `columns`: bar, percent, bytes, files, speed, ETA, current file. */
export function formatProgressLine(state: ProgressState, elapsedSeconds: number, columns: number): string {
  const fraction = state.bytesTotal > 0 ? Math.min(1, state.bytesDone / state.bytesTotal) : 0;
  const speed = elapsedSeconds > 0 ? state.bytesDone / elapsedSeconds : 0;
  const eta =
    speed > 0 && state.bytesTotal > state.bytesDone
      ? formatDuration((state.bytesTotal - state.bytesDone) / speed)
      : '-:--';
  const stats =
    ` ${String(Math.floor(fraction * 100)).padStart(3)}%` +
    ` ${formatBytes(state.bytesDone)}/${formatBytes(state.bytesTotal)}` +
    ` ${state.filesDone}/${state.filesTotal} files` +
    ` ${formatBytes(Math.round(speed))}/s ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(30, columns - stats.length - 4));
  const filled = Math.round(fraction * barWidth);
  let line = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${stats}`;
  const room = columns - 1 - line.length;
  if (state.currentFile && room > 4) {
    const name =
      state.currentFile.length > room - 1 ? `…${state.currentFile.slice(-(room - 2))}` : state.currentFile;
    line += ` ${name}`;
  }
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}

/** The one-line summary at the end of a get. */
export function formatSummary(summary: RunSummary): string {
  const files = `${summary.files} file${summary.files === 1 ? '' : 's'}`;
  const requests = `${summary.requests} request${summary.requests === 1 ? '' : 's'}`;
  return (
    `${files}, ${formatBytes(summary.bytesWritten)} written, ` +
    `${formatBytes(summary.bytesFetched)} fetched in ${requests}, ${summary.seconds.toFixed(2)} s`
  );
}

export interface ProgressSink {
  write(text: string): unknown;
  columns?: number;
}

/** Draws a throttled single-line bar on a terminal; `clear()` makes room for a log line. */
export class ProgressBar {
  private readonly started: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private state: ProgressState = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 };

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 100,
  ) {
    this.started = now();
  }

  /** Records new progress and redraws at most every intervalMs (always when `force`). */
  update(state: Partial<ProgressState>, force = false): void {
    this.state = { ...this.state, ...state };
    const t = this.now();
    if (!force && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.draw();
  }

  /** Erases the bar from the terminal line (it comes back on the next update). */
  clear(): void {
    if (!this.drawn) return;
    this.sink.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Draws the final state and leaves the cursor on a fresh line. */
  finish(): void {
    this.update({}, true);
    this.clear();
  }

  private draw(): void {
    const columns = this.sink.columns && this.sink.columns > 20 ? this.sink.columns : 80;
    const line = formatProgressLine(this.state, (this.now() - this.started) / 1000, columns);
    this.sink.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }
}
