package qp.flink;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.core.plugin.PluginUtils;
import org.apache.flink.runtime.entrypoint.ClusterEntrypoint;
import org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint;
import org.apache.flink.runtime.taskexecutor.TaskManagerRunner;
import org.apache.flink.runtime.util.JvmShutdownSafeguard;
import org.slf4j.LoggerFactory;

/**
 * A Flink 1.18 session cluster without Flink's distribution scripts.
 * Usage: LocalFlinkCluster confDir [session|jobmanager|taskmanager]
 *   session      JobManager (dispatcher, resource manager, REST and web UI) and one TaskManager in this JVM
 *   jobmanager   the JobManager only
 *   taskmanager  one TaskManager that registers with the JobManager of the configuration
 */
public final class LocalFlinkCluster {
  public static void main(String[] args) throws Exception {
    String confDir = args.length > 0 ? args[0] : "conf";
    String mode = args.length > 1 ? args[1] : "session";
    // Flink's own entry points do this: without it a shutdown hook that hangs keeps SIGTERM from ending the JVM.
    JvmShutdownSafeguard.installAsShutdownHook(LoggerFactory.getLogger(LocalFlinkCluster.class));
    Configuration conf = GlobalConfiguration.loadConfiguration(confDir);
    Thread jobManager = null;
    if (!mode.equals("taskmanager")) {
      jobManager = new Thread(() -> ClusterEntrypoint.runClusterEntrypoint(new StandaloneSessionClusterEntrypoint(conf)), "jobmanager");
      jobManager.start();
    }
    if (!mode.equals("jobmanager")) {
      Thread taskManager = new Thread(() -> {
        try {
          System.exit(TaskManagerRunner.runTaskManager(conf, PluginUtils.createPluginManagerFromRootFolder(conf)));
        } catch (Exception e) {
          e.printStackTrace();
          System.exit(1);
        }
      }, "taskmanager");
      taskManager.start();
      if (jobManager == null) taskManager.join();
    }
    if (jobManager != null) jobManager.join();
  }
}
