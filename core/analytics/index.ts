export * from './events';
export * from './signals';
export * from './engine';
export * from './latest';
