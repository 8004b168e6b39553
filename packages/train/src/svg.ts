/**
 * The loss curve of a run as a self-contained SVG (no scripts, fonts or external references): the
 * training loss per step (faint), its exponential moving average, and the validation loss as points,
 * over linear axes with rounded tick values.
 */
import type { HistoryPoint, ValidationPoint } from './checkpoint.js';

export interface LossCurveOptions {
  title?: string;
  width?: number;
  height?: number;
  /** Smoothing of the training curve (EMA weight of the past). Default 0.9. */
  smoothing?: number;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `count` "nice" ticks (steps of 1, 2, 2.5 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9))!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export function lossCurveSvg(history: readonly HistoryPoint[], validations: readonly ValidationPoint[] = [], options: LossCurveOptions = {}): string {
  const W = options.width ?? 640;
  const H = options.height ?? 360;
  const margin = { left: 64, right: 16, top: options.title ? 36 : 16, bottom: 44 };
  const plotW = W - margin.left - margin.right;
  const plotH = H - margin.top - margin.bottom;
  const alpha = options.smoothing ?? 0.9;
  const train = history.filter((h) => Number.isFinite(h.loss));
  const valid = validations.filter((v) => Number.isFinite(v.metrics.loss));
  const losses = [...train.map((h) => h.loss), ...valid.map((v) => v.metrics.loss)];
  const steps = [...train.map((h) => h.step), ...valid.map((v) => v.step)];
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`);
  if (losses.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no finite loss recorded</text></svg>`);
    return parts.join('\n');
  }
  const x0 = Math.min(0, ...steps);
  const x1 = Math.max(x0 + 1, ...steps);
  let y0 = Math.min(...losses);
  let y1 = Math.max(...losses);
  if (y1 - y0 < 1e-12) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 = Math.max(0, y0 - pad) === 0 && y0 >= 0 ? Math.max(0, y0 - pad) : y0 - pad;
  y1 += pad;
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => margin.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  const p = (v: number) => v.toFixed(1);
  // grid and ticks
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${p(sy(t))}" y2="${p(sy(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${p(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    if (!Number.isInteger(t)) continue;
    parts.push(`<line x1="${p(sx(t))}" x2="${p(sx(t))}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${p(sx(t))}" y="${margin.top + plotH + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${H - 8}" text-anchor="middle">step</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">loss</text>`);
  if (train.length > 0) {
    // At most ~2 points per horizontal pixel: keeps long runs small without changing the picture.
    const every = Math.max(1, Math.floor(train.length / (2 * plotW)));
    const raw: string[] = [];
    const smooth: string[] = [];
    let ema = train[0]!.loss;
    train.forEach((h, i) => {
      ema = alpha * ema + (1 - alpha) * h.loss;
      if (i % every === 0 || i === train.length - 1) {
        raw.push(`${p(sx(h.step))},${p(sy(h.loss))}`);
        smooth.push(`${p(sx(h.step))},${p(sy(ema))}`);
      }
    });
    parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-opacity="0.25" stroke-width="1" points="${raw.join(' ')}"/>`);
    parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${smooth.join(' ')}"/>`);
  }
  if (valid.length > 0) {
    parts.push(`<polyline fill="none" stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3" points="${valid.map((v) => `${p(sx(v.step))},${p(sy(v.metrics.loss))}`).join(' ')}"/>`);
    for (const v of valid) parts.push(`<circle cx="${p(sx(v.step))}" cy="${p(sy(v.metrics.loss))}" r="3" fill="#d62728"/>`);
  }
  // legend
  const lx = margin.left + plotW - 150;
  const ly = margin.top + 10;
  parts.push(`<rect x="${lx - 6}" y="${ly - 8}" width="146" height="${valid.length ? 38 : 22}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly + 2}" y2="${ly + 2}" stroke="#1f77b4" stroke-width="2"/><text x="${lx + 26}" y="${ly + 6}">train (EMA ${alpha})</text>`);
  if (valid.length) parts.push(`<circle cx="${lx + 10}" cy="${ly + 18}" r="3" fill="#d62728"/><text x="${lx + 26}" y="${ly + 22}">validation</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
