/**
 * A progress reporter for fit's `onProgress`: on a TTY a live one-line bar (step, loss, tokens/s,
 * Newton iterations, ETA) redrawn in place; elsewhere (a pipe, a CI log) quiet JSON lines, one per
 * event kind that matters, with step lines throttled.
 */
import { formatMetrics } from './metrics.js';
import type { ProgressEvent } from './trainer.js';

export interface ProgressReporterOptions {
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** 'auto' (default): 'bar' on a TTY, else 'json'. 'none' prints nothing. */
  format?: 'auto' | 'bar' | 'json' | 'none';
  /** JSON: at most one step line per this many ms (validations, checkpoints and the end always print). Default 10000. Bar: redraw interval, default 100. */
  intervalMs?: number;
}

export interface ProgressReporter {
  readonly format: 'bar' | 'json' | 'none';
  /** Pass as fit's onProgress. */
  readonly onProgress: (event: ProgressEvent) => void;
  /** Ends the bar's line (call when fit returns or throws). */
  close(): void;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

function round(x: number, digits = 6): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}

export function createProgressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const requested = options.format ?? 'auto';
  const format = requested === 'auto' ? (stream.isTTY ? 'bar' : 'json') : requested;
  const interval = options.intervalMs ?? (format === 'bar' ? 100 : 10_000);
  let lastPrint = -Infinity;
  let barOpen = false;
  let lastValid = '';

  const writeJson = (obj: Record<string, unknown>) => stream.write(JSON.stringify(obj) + '\n');
  const clearBar = () => {
    if (barOpen) stream.write('\r\x1b[K');
  };

  const bar = (e: Extract<ProgressEvent, { type: 'step' }>) => {
    const width = Math.max(10, Math.min(30, (stream.columns ?? 100) - 90));
    const filled = Math.round((width * e.step) / e.totalSteps);
    const pieces = [
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`,
      `${e.step}/${e.totalSteps}`,
      `loss ${e.loss.toFixed(4)}`,
      ...(e.accuracy !== undefined ? [`acc ${(100 * e.accuracy).toFixed(1)}%`] : []),
      `${formatRate(e.tokensPerSecond)} tok/s`,
      `newton ${e.newtonIterations}`,
      `ETA ${formatDuration(e.etaMs)}`,
      ...(lastValid ? [lastValid] : []),
    ];
    stream.write(`\r\x1b[K${pieces.join('  ')}`);
    barOpen = true;
  };

  const onProgress = (event: ProgressEvent) => {
    if (format === 'none') return;
    const now = performance.now();
    switch (event.type) {
      case 'step':
        if (format === 'bar') {
          if (now - lastPrint >= interval || event.step === event.totalSteps) {
            bar(event);
            lastPrint = now;
          }
        } else if (now - lastPrint >= interval || event.step === event.totalSteps) {
          writeJson({
            event: 'step', step: event.step, totalSteps: event.totalSteps, loss: round(event.loss), ...(event.accuracy !== undefined ? { accuracy: round(event.accuracy, 4) } : {}),
            lr: round(event.lr, 4), gradNorm: round(event.gradNorm, 4), newtonIterations: event.newtonIterations,
            tokensPerSecond: Math.round(event.tokensPerSecond), elapsedMs: Math.round(event.elapsedMs), etaMs: Math.round(event.etaMs),
          });
          lastPrint = now;
        }
        break;
      case 'validation':
        if (format === 'bar') {
          lastValid = `valid ${event.metrics.loss.toFixed(4)}${event.metrics.accuracy !== undefined ? ` (${(100 * event.metrics.accuracy).toFixed(1)}%)` : ''}`;
          clearBar();
          stream.write(`step ${event.step}: valid ${formatMetrics(event.metrics)}${event.improved ? ' (best)' : ''}\n`);
          barOpen = false;
        } else {
          writeJson({ event: 'validation', step: event.step, ...roundMetrics(event.metrics), bestLoss: round(event.bestLoss), bestStep: event.bestStep, improved: event.improved });
        }
        break;
      case 'checkpoint':
        if (format === 'json') writeJson({ event: 'checkpoint', step: event.step, path: event.path });
        break;
      case 'done': {
        const r = event.result;
        if (format === 'bar') {
          clearBar();
          stream.write(`${r.status} at step ${r.step}/${r.totalSteps} in ${formatDuration(r.elapsedMs)}: valid ${formatMetrics(r.finalValid)}\n`);
          barOpen = false;
        } else {
          writeJson({ event: 'done', status: r.status, step: r.step, totalSteps: r.totalSteps, elapsedMs: Math.round(r.elapsedMs), ...roundMetrics(r.finalValid), bestValidLoss: round(r.bestValidLoss), bestStep: r.bestStep, ...(r.checkpointPath ? { checkpoint: r.checkpointPath } : {}) });
        }
        break;
      }
    }
  };
  return {
    format,
    onProgress,
    close() {
      if (barOpen) stream.write('\n');
      barOpen = false;
    },
  };
}

function roundMetrics(m: import('./metrics.js').Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number') out[k] = k === 'count' ? v : round(v);
  return out;
}
