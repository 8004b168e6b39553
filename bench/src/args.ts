/** Command-line flags of the benchmark (see README.md). */

export type Profile = 'full' | 'quick' | 'smoke';

export interface BenchArgs {
  profile: Profile;
  /** Print one JSON document on stdout instead of the table. */
  json: boolean;
  /** Also write the JSON document to this file (the table still goes to stdout). */
  jsonOut: string | null;
  /** Run only these cases (repeatable `--case name`). Empty: every case. */
  cases: string[];
  /** Internal: this process is a child that runs `cases[0]` and prints one JSON line of results. */
  child: boolean;
  /** Run every case in this process (no child processes; peak RSS is then cumulative). */
  inline: boolean;
  /** List the cases and exit. */
  list: boolean;
  help: boolean;
  /** The multi-threaded count of the CPU rows (default 2; the 1-thread rows always run too). */
  threads: number;
}

export const USAGE = `parascan benchmarks

  tsx src/main.ts [--quick | --smoke] [--json] [--json-out FILE] [--case NAME]... [--threads N] [--inline] [--list]

  (default)     the full run (about 2 minutes on 2 cores)
  --quick       the same rows with shorter timing budgets (the demo, under a minute)
  --smoke       tiny sizes, a few iterations: proves every case runs (CI)
  --json        print one JSON document (machine, command, every row) instead of the table
  --json-out F  also write that JSON document to file F (the table still goes to stdout)
  --case NAME   run only this case (repeatable; the bandwidth probes always run too); every
                case runs in a child process of its own
  --threads N   thread count of the multi-threaded CPU rows (default 2; 1-thread rows always run)
  --inline      run the cases in this process (faster start, but peak RSS is cumulative)
  --list        list the case names and exit
`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { profile: 'full', json: false, jsonOut: null, cases: [], child: false, inline: false, list: false, help: false, threads: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--quick':
        args.profile = 'quick';
        break;
      case '--smoke':
        args.profile = 'smoke';
        break;
      case '--json':
        args.json = true;
        break;
      case '--child':
        args.child = true;
        break;
      case '--inline':
        args.inline = true;
        break;
      case '--list':
        args.list = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--json-out': {
        const file = argv[++i];
        if (!file || file.startsWith('--')) throw new Error('--json-out needs a file name');
        args.jsonOut = file;
        break;
      }
      case '--threads': {
        const n = Number(argv[++i]);
        if (!Number.isInteger(n) || n < 1 || n > 4096) throw new Error('--threads needs an integer in [1, 4096]');
        args.threads = n;
        break;
      }
      case '--case': {
        const name = argv[++i];
        if (!name || name.startsWith('--')) throw new Error('--case needs a case name (see --list)');
        args.cases.push(name);
        break;
      }
      default:
        if (a.startsWith('--case=')) args.cases.push(a.slice('--case='.length));
        else throw new Error(`unknown argument ${JSON.stringify(a)}\n\n${USAGE}`);
    }
  }
  return args;
}

/** The flags a child needs to reproduce this run's profile. */
export function profileFlags(profile: Profile): string[] {
  return profile === 'full' ? [] : [`--${profile}`];
}
