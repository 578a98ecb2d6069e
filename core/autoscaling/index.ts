export * from './policy';
export * from './decide';
