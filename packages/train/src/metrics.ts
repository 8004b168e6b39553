/**
 * Aggregating StepResults (which are per-batch means with their counts) into dataset-level metrics.
 */
import type { StepResult } from './contract.js';

export interface Metrics {
  /** Count-weighted mean loss (cross-entropy in nats for tokens, MSE for series). */
  readonly loss: number;
  /** Scored positions (tokens), or scored values (series points × outputs). */
  readonly count: number;
  /** Tokens: fraction of scored positions whose argmax is the target. */
  readonly accuracy?: number;
  /** Tokens: exp(loss). */
  readonly perplexity?: number;
  /** Series: mean absolute error (in the model's units: standardised). */
  readonly mae?: number;
  /** Series: root mean squared error. */
  readonly rmse?: number;
  /** Largest Newton iteration count seen. */
  readonly newtonIterations: number;
}

export class MetricAccumulator {
  private lossSum = 0;
  private count = 0;
  private correct = 0;
  private hasCorrect = false;
  private absError = 0;
  private sqError = 0;
  private hasErrors = false;
  private newton = 0;

  constructor(readonly kind: 'tokens' | 'series') {}

  add(result: StepResult): void {
    this.lossSum += result.loss * result.count;
    this.count += result.count;
    if (result.correct !== undefined) {
      this.correct += result.correct;
      this.hasCorrect = true;
    }
    if (result.absError !== undefined || result.sqError !== undefined) {
      this.absError += result.absError ?? 0;
      this.sqError += result.sqError ?? 0;
      this.hasErrors = true;
    }
    this.newton = Math.max(this.newton, result.newtonIterations);
  }

  get batches(): number {
    return this.count;
  }

  result(): Metrics {
    const loss = this.count > 0 ? this.lossSum / this.count : NaN;
    const base = { loss, count: this.count, newtonIterations: this.newton };
    if (this.kind === 'tokens') {
      return { ...base, perplexity: Math.exp(loss), ...(this.hasCorrect ? { accuracy: this.correct / this.count } : {}) };
    }
    // MSE losses: when the model did not report error sums, loss (the MSE) still gives the RMSE.
    return this.hasErrors
      ? { ...base, mae: this.absError / this.count, rmse: Math.sqrt(this.sqError / this.count) }
      : { ...base, rmse: Math.sqrt(loss) };
  }
}

/** `loss 1.234 · acc 97.1% · ppl 3.43` style one-liner. */
export function formatMetrics(m: Metrics): string {
  const parts = [`loss ${m.loss.toFixed(4)}`];
  if (m.accuracy !== undefined) parts.push(`acc ${(100 * m.accuracy).toFixed(2)}%`);
  if (m.perplexity !== undefined) parts.push(`ppl ${m.perplexity.toFixed(3)}`);
  if (m.mae !== undefined) parts.push(`MAE ${m.mae.toFixed(4)}`);
  if (m.rmse !== undefined) parts.push(`RMSE ${m.rmse.toFixed(4)}`);
  return parts.join(' · ');
}
