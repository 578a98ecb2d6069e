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

  it("the ledger keeps each agent's latest pool and load, and a pool's loads are its agents' fresh reports", () => {
    const ledger = new HeartbeatLedger();
    ledger.recordPoolLoad('s', 'a', { pool: 'p', load: 0.9, at: 1000 });
    ledger.recordPoolLoad('s', 'a', { pool: 'q', load: 0.1, at: 500 }); // older: ignored
    ledger.recordPoolLoad('s', 'b', { pool: 'p', load: 0.4, at: 900 });
    ledger.recordPoolLoad('t', 'a', { pool: 'p', load: 0.2, at: 100 }); // same agent id, other swarm, stale by 2000
    ledger.recordPoolLoad('s', 'c', { pool: 'p', load: 0.7, at: 800 });
    ledger.recordPoolLoad('s', 'c', { pool: 'q', load: 0.3, at: 1100 }); // moved to another pool
    expect(ledger.loadsOf('p', 2100, 1500).sort()).toEqual([0.4, 0.9]);
    expect(ledger.loadsOf('q', 2100, 1500)).toEqual([0.3]);
    expect(ledger.loadsOf('p', 10_000, 1500)).toEqual([]);
  });
});
