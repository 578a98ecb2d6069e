import { applyGovernanceChange, effectiveProposalThreshold } from '../../core/decisions/governance';

describe('swarm governance settings', () => {
  it("a swarm's own threshold holds over the default, 0 included, and null returns to the default", () => {
    const own = applyGovernanceChange('s', { proposalThreshold: 0 }, 1000);
    expect(own).toEqual({ swarmId: 's', proposalThreshold: 0, updatedAt: 1000 });
    expect(effectiveProposalThreshold(own, 3)).toEqual({ threshold: 0, source: 'swarm' });
    const reset = applyGovernanceChange('s', { proposalThreshold: null }, 2000);
    expect(reset).toEqual({ swarmId: 's', updatedAt: 2000 });
    expect(effectiveProposalThreshold(reset, 3)).toEqual({ threshold: 3, source: 'default' });
    expect(effectiveProposalThreshold(undefined, 0)).toEqual({ threshold: 0, source: 'default' });
  });
});
