import { HeartbeatLedger, livenessTransitions } from '../../core/liveness';

describe('liveness transitions', () => {
  const grace = 1000;

  it('an agent silent for longer than the grace period flips to LOST once', () => {
    const seen = new Map([['a', 0]]);
    expect(livenessTransitions(['a'], new Set(), seen, 1001, grace)).toEqual([
      { agentId: 'a', status: 'LOST', lastSeenAt: 0 },
    ]);
    expect(livenessTransitions(['a'], new Set(['a']), seen, 5000, grace)).toEqual([]);
  });

  it('a heartbeat exactly at the grace boundary still counts as alive', () => {
    expect(livenessTransitions(['a'], new Set(), new Map([['a', 0]]), 1000, grace)).toEqual([]);
  });

  it('a LOST agent that heartbeats again flips back to ACTIVE', () => {
    expect(livenessTransitions(['a'], new Set(['a']), new Map([['a', 900]]), 1000, grace)).toEqual([
      { agentId: 'a', status: 'ACTIVE', lastSeenAt: 900 },
    ]);
  });

  it('agents not watched are ignored', () => {
    expect(livenessTransitions([], new Set(), new Map([['a', 0]]), 5000, grace)).toEqual([]);
  });

  it('the ledger keeps the latest heartbeat and seeds unknown agents with now', () => {
    const ledger = new HeartbeatLedger();
    ledger.record('s', 'a', 500);
    ledger.record('s', 'a', 300);
    ledger.seed('s', ['a', 'b'], 1000);
    expect(ledger.swarm('s')).toEqual(new Map([['a', 500], ['b', 1000]]));
    expect(ledger.swarm('other').size).toBe(0);
  });
});
