// Collaborative decisions, pure: systems, tallies, outcomes, ballots.
export * from './types';
export * from './choice';
export * from './tally';
export * from './outcome';
export * from './power';
