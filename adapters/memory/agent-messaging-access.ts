// The in-process bus has no broker identities: every agent shares the process's
// messaging port, so there is nothing to grant or take away.
import type { AgentMessagingAccess } from '../ports';

export class OpenAgentMessagingAccess implements AgentMessagingAccess {
  readonly issuesTokens = false;
  async grant(): Promise<undefined> {
    return undefined;
  }
  async revoke(): Promise<void> {}
  tokenFor(): undefined {
    return undefined;
  }
}
