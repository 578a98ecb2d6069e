import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { keptAlive } from '../../activities/keep-alive';

describe('activities kept alive', () => {
  it('heartbeat while they run, so a killed worker is noticed within the heartbeat timeout', async () => {
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const slow = keptAlive(
      {
        async listing(ms: number): Promise<string> {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return 'listed';
        },
      },
      100,
    );

    await expect(env.run(slow.listing, 550)).resolves.toBe('listed');
    expect(beats).toBeGreaterThanOrEqual(4);
    const after = beats;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(beats).toBe(after); // no heartbeat once the activity is over
  });

  it('pass results and failures through, and run plainly outside an activity', async () => {
    const activities = keptAlive({
      async twice(n: number) {
        return 2 * n;
      },
      async fails(): Promise<never> {
        throw new Error('no such model');
      },
    });
    await expect(activities.twice(21)).resolves.toBe(42);
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    await expect(env.run(activities.fails)).rejects.toThrow('no such model');
  });
});
