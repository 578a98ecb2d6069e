export * from './events';
export * from './signals';
export * from './engine';
export * from './latest';
export * from './topics';
export * from './task-join';
export * from './round-events';
export * from './measured';
