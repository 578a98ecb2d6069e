// The cached agent directory: a swarm's listing is reused for a few seconds,
// never past a change this process saw (once visibility can show it), and
// never when the listing failed.
import { CachedAgentDirectory } from '../../adapters/temporal/agent-directory';
import type { AgentDirectory, DirectoryEntry } from '../../adapters/ports';

/** A directory whose listing the test controls, counting how often it is asked. */
function visibility() {
  const active = new Map<string, string[]>();
  const calls: string[] = [];
  let failNext = false;
  let release: (() => void) | undefined;
  const directory: AgentDirectory = {
    async listActive(swarmId) {
      calls.push(swarmId);
      if (release === null) await new Promise<void>((resolve) => (release = resolve));
      if (failNext) {
        failNext = false;
        throw new Error('visibility unavailable');
      }
      return (active.get(swarmId) ?? []).map((agentId): DirectoryEntry => ({ agentId }));
    },
  };
  return {
    directory,
    active,
    calls,
    failNextCall: () => (failNext = true),
    /** The next listings wait until the returned function is called. */
    hold: () => {
      release = null as unknown as undefined;
      return () => release?.();
    },
  };
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const ids = (entries: DirectoryEntry[]) => entries.map((e) => e.agentId);

describe('the cached agent directory', () => {
  it('serves a swarm listing again within the TTL and asks visibility again after it', async () => {
    const source = visibility();
    const time = clock();
    const cached = new CachedAgentDirectory(source.directory, { ttlMs: 5000, settleMs: 2000, now: time.now });
    source.active.set('s1', ['a', 'b']);
    expect(ids(await cached.listActive('s1'))).toEqual(['a', 'b']);
    source.active.set('s1', ['a', 'b', 'c']); // changed by another process: seen within the TTL
    time.advance(4999);
    expect(ids(await cached.listActive('s1'))).toEqual(['a', 'b']);
    time.advance(1);
    expect(ids(await cached.listActive('s1'))).toEqual(['a', 'b', 'c']);
    expect(source.calls).toEqual(['s1', 's1']);
  });

  it('keeps swarms apart', async () => {
    const source = visibility();
    const cached = new CachedAgentDirectory(source.directory, { now: clock().now });
    source.active.set('s1', ['a']);
    source.active.set('s2', ['z']);
    expect(ids(await cached.listActive('s1'))).toEqual(['a']);
    expect(ids(await cached.listActive('s2'))).toEqual(['z']);
    cached.agentChanged('s2');
    expect(ids(await cached.listActive('s1'))).toEqual(['a']);
    expect(source.calls).toEqual(['s1', 's2']);
  });

  it('after a change it saw, lists afresh until visibility has had time to show the change, then caches again', async () => {
    const source = visibility();
    const time = clock();
    const cached = new CachedAgentDirectory(source.directory, { ttlMs: 5000, settleMs: 2000, now: time.now });
    source.active.set('s1', ['a', 'b']);
    await cached.listActive('s1');
    // Agent b is found LOST: the liveness path tells the directory before visibility indexes it.
    cached.agentChanged('s1');
    time.advance(100);
    expect(ids(await cached.listActive('s1'))).toEqual(['a', 'b']); // visibility still lags
    source.active.set('s1', ['a']);
    time.advance(500);
    expect(ids(await cached.listActive('s1'))).toEqual(['a']); // the lagging listing was not kept
    time.advance(1400); // settled: 2,000 ms after the change
    expect(ids(await cached.listActive('s1'))).toEqual(['a']);
    time.advance(1000);
    expect(ids(await cached.listActive('s1'))).toEqual(['a']);
    expect(source.calls).toHaveLength(4);
  });

  it('shares one listing between selections asking at once', async () => {
    const source = visibility();
    const cached = new CachedAgentDirectory(source.directory, { now: clock().now });
    source.active.set('s1', ['a']);
    cached.agentChanged('s1'); // even while settling, callers share a listing in flight
    const release = source.hold();
    const both = Promise.all([cached.listActive('s1'), cached.listActive('s1')]);
    release();
    expect((await both).map(ids)).toEqual([['a'], ['a']]);
    expect(source.calls).toHaveLength(1);
  });

  it('does not keep a failed listing', async () => {
    const source = visibility();
    const cached = new CachedAgentDirectory(source.directory, { now: clock().now });
    source.active.set('s1', ['a']);
    source.failNextCall();
    await expect(cached.listActive('s1')).rejects.toThrow('visibility unavailable');
    expect(ids(await cached.listActive('s1'))).toEqual(['a']);
    expect(source.calls).toHaveLength(2);
  });

  it('hands each caller its own array', async () => {
    const source = visibility();
    const cached = new CachedAgentDirectory(source.directory, { now: clock().now });
    source.active.set('s1', ['a', 'b']);
    (await cached.listActive('s1')).pop();
    expect(ids(await cached.listActive('s1'))).toEqual(['a', 'b']);
  });
});
