import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgressLine, formatSummary, ProgressBar } from '../../../src/cli/progress.js';

describe('progress line', () => {
  it('shows percent, bytes, files, speed and ETA', () => {
    const line = formatProgressLine(
      {
        bytesDone: 512 * 1024,
        bytesTotal: 1024 * 1024,
        filesDone: 3,
        filesTotal: 10,
        currentFile: 'usr/bin/node',
      },
      2,
      120,
    );
    expect(line).toMatch(
      /^\[#+\.+\] +50% 512\.0 KiB\/1\.00 MiB 3\/10 files 256\.0 KiB\/s ETA 0:02 usr\/bin\/node$/,
    );
    expect(line.length).toBeLessThan(120);
  });

  it('fits a narrow terminal and shortens the file name from the left', () => {
    const state = {
      bytesDone: 1,
      bytesTotal: 2,
      filesDone: 0,
      filesTotal: 1,
      currentFile: `a/${'x'.repeat(200)}`,
    };
    for (const columns of [40, 80, 100]) {
      expect(formatProgressLine(state, 1, columns).length).toBeLessThan(columns);
    }
    expect(formatProgressLine(state, 1, 100)).toContain('…x');
  });

  it('has no ETA before any byte arrived', () => {
    expect(
      formatProgressLine({ bytesDone: 0, bytesTotal: 10, filesDone: 0, filesTotal: 1 }, 0, 80),
    ).toContain('ETA -:--');
  });

  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61)).toBe('1:01');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('formats the summary', () => {
    expect(
      formatSummary({ files: 1, bytesWritten: 2048, bytesFetched: 1024, requests: 1, seconds: 0.5 }),
    ).toBe('1 file, 2.00 KiB written, 1.00 KiB fetched in 1 request, 0.50 s');
    expect(formatSummary({ files: 2, bytesWritten: 0, bytesFetched: 0, requests: 3, seconds: 1 })).toMatch(
      /^2 files, .* in 3 requests, 1\.00 s$/,
    );
  });
});

describe('ProgressBar', () => {
  it('throttles redraws and clears its line', () => {
    const writes: string[] = [];
    let t = 0;
    const bar = new ProgressBar({ write: (s) => writes.push(s), columns: 80 }, () => t, 100);
    bar.update({ bytesTotal: 100, filesTotal: 1 });
    t = 50;
    bar.update({ bytesDone: 50 });
    expect(writes).toHaveLength(1);
    t = 200;
    bar.update({ bytesDone: 60 });
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('60%');
    bar.clear();
    expect(writes.at(-1)).toBe('\r\x1b[K');
    bar.clear();
    expect(writes).toHaveLength(3);
    bar.finish();
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });
});
