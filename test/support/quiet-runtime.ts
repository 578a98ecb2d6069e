// Tests log only what matters: SDK warnings about expected failures are noise.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });
