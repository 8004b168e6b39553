/**
 * The CLI as a user runs it: `node bin/parascan.js ...` in a child process (the package's dist/
 * must be built: turbo builds before testing), checking exit codes, stdout/stderr and the files a
 * run leaves behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '@parascan/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/parascan.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
let dir = '';

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 240_000, env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!built) throw new Error('packages/cli/dist is not built: run `npx pnpm@10.34.9 build` (turbo builds before `test`).');
  dir = mkdtempSync(join(tmpdir(), 'parascan-cli-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('help and usage errors', () => {
  it('prints help with exit 0', () => {
    const top = cli('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:\n  train .*\n  eval .*\n  bench /);
    for (const c of ['train', 'eval', 'bench']) {
      const r = cli(c, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: parascan ${c}`);
      expect(r.stderr).toBe('');
    }
    expect(cli('help', 'train').stdout).toContain('Usage: parascan train');
    expect(cli('--version').stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('answers bad usage with one line on stderr and exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['trian'], /^parascan: unknown command "trian"\. Did you mean "train"\?/],
      [['train', '--stpes', '5'], /^parascan train: unknown flag --stpes\. Did you mean --steps\?/],
      [['train', '--steps', 'ten'], /^parascan train: --steps must be an integer; got "ten"\.$/],
      [['train', '--task', 'parity', '--data', 'x.txt'], /^parascan train: give either --task or --data, not both/],
      [['train', '--task', 'pairty'], /^parascan train: --task must be one of .*; got "pairty"\. Did you mean "parity"\?$/],
      [['train', '--task', 'parity', '--columns', 'a'], /--columns and --targets apply to CSV time series only/],
      [['train', '--task', 'parity', '--width', '30', '--heads', '4'], /--heads 4 must divide --width 30/],
      [['train', '--mode', 'fused', '--backend', 'js'], /--mode fused .* needs --backend cpu/],
      [['bench', '--modes', 'sequential,turbo'], /unknown mode "turbo"/],
      [['bench', '--modes', 'sequential,fused', '--backend', 'js'], /mode 'fused' runs natively and needs --backend cpu/],
      [['eval', 'ck.safetensors'], /unexpected argument "ck\.safetensors"/],
    ];
    for (const [args, want] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
    }
  });
});

describe('bad data files: one line that says what to fix, exit 1', () => {
  it.each([
    ['empty.csv', '', /empty\.csv.*empty/i],
    ['ragged.csv', 'a,b\n1,2\n3\n4,5\n', /ragged\.csv.*line 3/],
    ['text.csv', 'a,b\n1,2\n3,x\n4,5\n', /text\.csv.*line 3.*"?x"?/],
    ['empty.txt', '', /empty\.txt.*(empty|0 bytes|too short)/i],
  ])('%s', (name, content, want) => {
    writeFileSync(join(dir, name), content);
    const r = cli('train', '--data', name, '--steps', '1', '--length', '2', '--backend', 'js', '--no-compare', '--progress', 'none');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^parascan train: /);
    expect(r.stderr.trim()).toMatch(want);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names a missing column and the columns there are', () => {
    writeFileSync(join(dir, 'cols.csv'), 'time,load\n1,2\n2,3\n3,4\n4,5\n5,6\n');
    const r = cli('train', '--data', 'cols.csv', '--columns', 'load,temp', '--length', '2', '--steps', '1', '--backend', 'js', '--progress', 'none');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/temp/);
    expect(r.stderr).toMatch(/load/);
  });

  it('refuses a missing file and a corrupted checkpoint', () => {
    expect(cli('train', '--data', 'nope.txt').stderr).toMatch(/nope\.txt/);
    expect(cli('train', '--data', 'nope.txt').code).toBe(1);
    writeFileSync(join(dir, 'bad.safetensors'), Buffer.from([1, 2, 3]));
    const r = cli('eval', '--checkpoint', 'bad.safetensors');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^parascan eval: .*bad\.safetensors/);
    expect(cli('eval').stderr).toMatch(/--checkpoint FILE is required/);
  });
});

describe('train, resume, eval', () => {
  it('trains, writes checkpoint + summary + SVG, resumes to the same place, and evaluates', async () => {
    const common = ['--task', 'parity', '--length', '12', '--batch', '8', '--width', '8', '--heads', '2', '--valid-every', '4', '--progress', 'json', '--backend', 'js'];
    const a = cli('train', ...common, '--steps', '8', '--out', 'full');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/run completed at step 8\/8/);
    expect(a.stdout).toMatch(/sequential .* ms, parallel .* ms/);
    for (const f of ['checkpoint.safetensors', 'summary.txt', 'summary.json', 'loss.svg']) expect(existsSync(join(dir, 'full', f))).toBe(true);
    expect(readFileSync(join(dir, 'full', 'loss.svg'), 'utf8')).toMatch(/^<svg[^>]*>/);
    // Progress is JSON lines on stderr when not a terminal.
    const events = a.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string });
    expect(events.some((e) => e.event === 'validation')).toBe(true);

    const b = cli('train', ...common, '--steps', '8', '--stop-after', '3', '--out', 'half');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/stopped at step 3 as asked/);
    const c = cli('train', '--resume', 'half/checkpoint.safetensors', '--progress', 'none', '--backend', 'js', '--no-compare');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/run completed at step 8\/8 \(resumed from step 3\)/);
    // Same parameters, bit for bit, as the uninterrupted run.
    const full = await loadCheckpoint(join(dir, 'full', 'checkpoint.safetensors'));
    const resumed = await loadCheckpoint(join(dir, 'half', 'checkpoint.safetensors'));
    expect([...resumed.parameters.keys()]).toEqual([...full.parameters.keys()]);
    for (const [name, t] of full.parameters) {
      const u = resumed.parameters.get(name)!;
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
    }

    const r = cli('train', '--resume', 'half/checkpoint.safetensors', '--width', '16');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--width cannot change when resuming/);

    // fit validated on the first 20 batches of 8 of the valid split: the same batches give the same loss.
    const e = cli('eval', '--checkpoint', 'full/checkpoint.safetensors', '--json', '--backend', 'js', '--batch', '8', '--max-batches', '20');
    expect(e.code, e.stderr).toBe(0);
    const out = JSON.parse(e.stdout) as { metrics: { loss: number; accuracy: number } };
    const summary = JSON.parse(readFileSync(join(dir, 'full', 'summary.json'), 'utf8')) as { finalValid: { loss: number } };
    expect(Math.abs(out.metrics.loss - summary.finalValid.loss)).toBeLessThan(1e-4 * Math.max(1, summary.finalValid.loss));
    expect(out.metrics.accuracy).toBeGreaterThan(0);

    const mismatch = cli('eval', '--checkpoint', 'full/checkpoint.safetensors', '--task', 'weather', '--backend', 'js');
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/does not fit the checkpoint's model/);
  });

  it('--stop-at-accuracy stops at the first validation that reaches it, with exit 0', () => {
    const r = cli('train', '--task', 'parity', '--length', '8', '--batch', '4', '--width', '8', '--heads', '2', '--steps', '50', '--valid-every', '5', '--stop-at-accuracy', '0', '--progress', 'none', '--backend', 'js', '--no-compare', '--out', 'acc');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped at step 5: validation accuracy reached 0 at step 5/);
    const bad = cli('train', '--task', 'weather', '--stop-at-accuracy', '0.9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--stop-at-accuracy applies to token tasks/);
  });

  it('Ctrl-C saves a checkpoint, exits 130 and says how to resume', async () => {
    const child = spawn(process.execPath, [bin, 'train', '--task', 'parity', '--length', '12', '--batch', '4', '--width', '8', '--heads', '2', '--steps', '100000', '--progress', 'json', '--backend', 'js', '--out', 'interrupted'], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const started = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('"event":"step"')) resolve();
      }),
    );
    await started;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted; finishing the current step and saving the checkpoint/);
    expect(stdout).toMatch(/resume with: parascan train --resume .*interrupted\/checkpoint\.safetensors/);
    expect(existsSync(join(dir, 'interrupted', 'checkpoint.safetensors'))).toBe(true);
  });

  it('bench prints the modes side by side', () => {
    const r = cli('bench', '--cell', 'gru', '--width', '8', '--heads', '2', '--layers', '1', '--batch', '2', '--length', '16', '--repeats', '1', '--modes', 'sequential,parallel', '--backend', 'js', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { results: Array<{ cell: string; rows: Array<{ mode: string; tokensPerSecond: number; stepSpeedup: number }> }> };
    expect(j.results[0]!.rows.map((x) => x.mode)).toEqual(['sequential', 'parallel']);
    for (const row of j.results[0]!.rows) expect(row.tokensPerSecond).toBeGreaterThan(0);
    expect(j.results[0]!.rows[0]!.stepSpeedup).toBe(1);
  });
});
