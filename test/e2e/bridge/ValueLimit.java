import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * ZooKeeper's own Java client (default jute.maxbuffer) against a server: creates a
 * node of `bytes` bytes and reads it back, then tries one byte more at create and at
 * setData, then reads the node twice in one multi-read (a reply over the buffer).
 * Prints one line per step: "<step> ok [length]" or "<step> <KeeperException code>".
 * Usage: java -cp <zookeeper jars> ValueLimit.java host:port bytes /base-path
 */
public class ValueLimit {
  interface Step {
    Object run() throws Exception;
  }

  static void report(String step, Step body) {
    try {
      Object result = body.run();
      System.out.println(step + " ok" + (result instanceof byte[] ? " " + ((byte[]) result).length : ""));
    } catch (KeeperException e) {
      System.out.println(step + " " + e.code());
    } catch (Exception e) {
      System.out.println(step + " error " + e);
    }
  }

  public static void main(String[] args) throws Exception {
    String server = args[0];
    int bytes = Integer.parseInt(args[1]);
    String base = args[2];
    CountDownLatch connected = new CountDownLatch(1);
    ZooKeeper zk = new ZooKeeper(server, 10000, event -> {
      if (event.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
    });
    if (!connected.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no connection to " + server);
    String atLimit = base + "-at-limit";
    String over = base + "-over";
    report("create", () -> zk.create(atLimit, new byte[bytes], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
    report("get", () -> zk.getData(atLimit, false, null));
    report("create+1", () -> zk.create(over, new byte[bytes + 1], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
    report("set+1", () -> zk.setData(atLimit, new byte[bytes + 1], -1));
    report("get", () -> zk.getData(atLimit, false, null));
    report("multiRead", () -> zk.multi(Arrays.asList(Op.getData(atLimit), Op.getData(atLimit))));
    report("get", () -> zk.getData(atLimit, false, null));
    zk.close();
  }
}
