export * from './policy';
export * from './decide';
export * from './pool';
