import { overdueQueuedTasks, type InboxAssignment } from '../../core/allocation/overload';

const S = 1000;
const task = (taskId: string, agentId: string, assignedAtS: number, expectedFinishS: number, deadlineS: number): InboxAssignment => ({
  taskId,
  agentId,
  attempt: 1,
  assignedAtMs: assignedAtS * S,
  expectedFinishMs: expectedFinishS * S,
  deadlineMs: deadlineS * S,
});

describe('overdueQueuedTasks', () => {
  // Agent a planned three 10 s tasks back to back from t=0: finishes at 10, 20, 30.
  const queue = [task('t1', 'a', 0, 10, 100), task('t2', 'a', 1, 20, 40), task('t3', 'a', 2, 30, 45)];

  it('an agent on plan, or behind by no more than the grace, moves nothing', () => {
    expect(overdueQueuedTasks(queue, 9 * S, 5 * S)).toEqual([]);
    expect(overdueQueuedTasks(queue, 15 * S, 5 * S)).toEqual([]);
  });

  it('behind by 25 s: t2 would finish at 35 + 10 = 45 > 40, t3 at 35 + 20 = 55 > 45; the oldest task stays', () => {
    expect(overdueQueuedTasks(queue, 35 * S, 5 * S)).toEqual([
      { taskId: 't2', agentId: 'a', attempt: 1, behindS: 25, lateByS: 5 },
      { taskId: 't3', agentId: 'a', attempt: 1, behindS: 25, lateByS: 10 },
    ]);
  });

  it('a queued task with slack for the slip stays', () => {
    const roomy = [task('t1', 'a', 0, 10, 100), task('t2', 'a', 1, 20, 60)];
    expect(overdueQueuedTasks(roomy, 35 * S, 5 * S)).toEqual([]);
  });

  it('agents are judged apart, and the queue order is the order of assignment whatever the input order', () => {
    const mixed = [task('b2', 'b', 5, 20, 21), task('t3', 'a', 2, 30, 45), task('b1', 'b', 4, 10, 100), task('t1', 'a', 0, 10, 100)];
    // At 17 s: a is 7 s behind, t3 would finish at 37 (deadline 45): stays. b is 7 s behind, b2 would finish at 27 > 21: moves.
    expect(overdueQueuedTasks(mixed, 17 * S, 5 * S).map((t) => t.taskId)).toEqual(['b2']);
  });

  it('an agent with only its running task moves nothing', () => {
    expect(overdueQueuedTasks([task('t1', 'a', 0, 10, 11)], 60 * S, 5 * S)).toEqual([]);
  });
});
