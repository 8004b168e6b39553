export { main, topLevelHelp, type MainOptions } from './main.js';
export { measureTrainingThroughput, type ThroughputOptions, type ThroughputRow, type ThroughputMode } from './throughput.js';
export { parseFlags, formatHelp, UsageError, type CommandSpec, type FlagSpec } from './args.js';
