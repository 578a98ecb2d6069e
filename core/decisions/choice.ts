// Whether a ballot's choice fits its decision's system and options.
import type { Choice, DecisionSystem } from './types';

/** Undefined when the choice is valid for the system and options; otherwise why not. */
export function choiceProblem(system: DecisionSystem, options: readonly string[], choice: Choice): string | undefined {
  const known = (option: unknown) => typeof option === 'string' && options.includes(option);
  switch (system) {
    case 'basic':
    case 'single-choice':
      return known(choice) ? undefined : `one of ${options.join(', ')}`;
    case 'approval':
    case 'ranked-choice': {
      if (!Array.isArray(choice) || choice.length === 0) return 'a non-empty list of options';
      if (!choice.every(known)) return `options among ${options.join(', ')}`;
      if (new Set(choice).size !== choice.length) return 'no option twice';
      return undefined;
    }
    case 'weighted':
    case 'quadratic': {
      if (choice === null || typeof choice !== 'object' || Array.isArray(choice)) return 'an object option -> weight';
      const entries = Object.entries(choice);
      if (entries.length === 0) return 'at least one option with a weight';
      if (!entries.every(([option]) => known(option))) return `options among ${options.join(', ')}`;
      if (!entries.every(([, weight]) => typeof weight === 'number' && Number.isFinite(weight) && weight >= 0)) {
        return 'finite weights >= 0';
      }
      if (entries.reduce((sum, [, weight]) => sum + weight, 0) <= 0) return 'weights that sum to more than 0';
      return undefined;
    }
  }
}
