export * from './errors.js';
export * from './dtype.js';
export * from './validate.js';
export * from './random.js';
