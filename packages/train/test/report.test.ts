import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createDataset, createProgressReporter, fit, lossCurveSvg, niceTicks, summarizeRun, writeRunSummary, formatDuration, type ProgressEvent } from '../src/index.js';
import { BigramModel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'parascan-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 160;
  return { stream, text: () => chunks.join('') };
}

const data = createDataset({ kind: 'synthetic', task: 'parity', length: 8, trainSize: 64, validSize: 16 });

describe('progress reporter', () => {
  it('not a TTY: JSON lines only, step lines throttled, validation/checkpoint/done always', async () => {
    const out = sink(false);
    const reporter = createProgressReporter({ stream: out.stream, intervalMs: 60_000 });
    expect(reporter.format).toBe('json');
    await fit(new BigramModel(2), data, { steps: 12, batchSize: 8, validEvery: 4, validBatches: 1, checkpointPath: join(dir, 'p.safetensors'), onProgress: reporter.onProgress });
    reporter.close();
    const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // the first and the last step print; the 10 between are throttled away
    expect(lines.map((l) => l.event)).toEqual(['step', 'validation', 'validation', 'step', 'validation', 'checkpoint', 'done']);
    expect(lines[0]).toMatchObject({ event: 'step', step: 1, totalSteps: 12 });
    expect(lines.at(-1)).toMatchObject({ event: 'done', status: 'completed', step: 12 });
    expect(typeof lines[1]!.accuracy).toBe('number');
    expect(out.text()).not.toContain('\r');
  });

  it('a TTY: one live line with step, loss, tok/s, Newton iterations and ETA, redrawn with \\r', () => {
    const out = sink(true);
    const reporter = createProgressReporter({ stream: out.stream, intervalMs: 0 });
    expect(reporter.format).toBe('bar');
    const step: ProgressEvent = { type: 'step', step: 5, totalSteps: 20, loss: 0.6931, lr: 1e-3, gradNorm: 1, newtonIterations: 3, tokensPerSecond: 12345, elapsedMs: 1000, etaMs: 125_000 };
    reporter.onProgress(step);
    reporter.onProgress({ ...step, step: 6 });
    reporter.close();
    const text = out.text();
    expect(text.split('\r').length).toBe(3);
    expect(text).toMatch(/6\/20 {2}loss 0\.6931 {2}12\.3k tok\/s {2}newton 3 {2}ETA 2m05s/);
    expect(text.endsWith('\n')).toBe(true);
  });

  it("format 'none' prints nothing; durations read well", () => {
    const out = sink(true);
    const reporter = createProgressReporter({ stream: out.stream, format: 'none' });
    reporter.onProgress({ type: 'checkpoint', step: 1, path: 'x' });
    expect(out.text()).toBe('');
    expect([formatDuration(999), formatDuration(61_000), formatDuration(3_725_000), formatDuration(NaN)]).toEqual(['1s', '1m01s', '1h02m', '?']);
  });
});

describe('loss curve SVG and run summary', () => {
  it('nice ticks are round numbers covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(2.3, 3.1, 4)).toEqual([2.4, 2.6, 2.8, 3]);
    expect(niceTicks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0.68, 0.79)).toEqual([0.7, 0.725, 0.75, 0.775]);
  });

  it('the SVG is self-contained and plots every point inside the frame', () => {
    const history = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 2 / (1 + i / 10), lr: 1e-3, gradNorm: 1, newtonIterations: 3, ms: 1 }));
    const svg = lossCurveSvg(history, [{ step: 25, metrics: { loss: 0.9, count: 1, newtonIterations: 3 } }], { title: 'a <b> & c' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|href=|url\(/);
    expect(svg).toContain('a &lt;b&gt; &amp; c');
    // balanced tags
    const opened = (svg.match(/<(svg|text)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(svg|text)>/g) ?? []).length;
    expect(opened).toBe(closed);
    const polylines = [...svg.matchAll(/points="([^"]+)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));
    expect(polylines.length).toBe(3); // raw, smoothed, validation
    expect(polylines[0]!.length).toBe(50);
    for (const line of polylines) for (const [x, y] of line) {
      expect(x).toBeGreaterThanOrEqual(64);
      expect(x).toBeLessThanOrEqual(640 - 16);
      expect(y).toBeGreaterThanOrEqual(16);
      expect(y).toBeLessThanOrEqual(360 - 44);
    }
    // higher loss is drawn higher (smaller y)
    expect(polylines[0]![0]![1]).toBeLessThan(polylines[0]![49]![1]!);
    expect(lossCurveSvg([], [])).toContain('no finite loss recorded');
  });

  it('summarizeRun / writeRunSummary write text, JSON and the SVG', async () => {
    const model = new BigramModel(2);
    const result = await fit(model, data, { steps: 10, batchSize: 8, validEvery: 5, validBatches: 1 });
    const summary = summarizeRun(result, { model, dataset: data, forward: { backend: 'cpu', batch: 8, length: 8, sequentialMs: 2, parallelMs: 1, speedup: 2, newtonIterations: 3, lossDifference: 0, repeats: 3 } });
    expect(summary.text).toMatch(/run completed at step 10\/10/);
    expect(summary.text).toMatch(/final valid \(step 10\): loss [\d.]+ · acc [\d.]+% · ppl/);
    expect(summary.text).toMatch(/sequential 2\.00 ms, parallel 1\.00 ms \(2\.00×/);
    const paths = writeRunSummary(join(dir, 'run'), summary);
    expect(JSON.parse(readFileSync(paths.json, 'utf8')).step).toBe(10);
    expect(readFileSync(paths.svg, 'utf8')).toContain('<svg');
  });
});
