package org.idgraph.cdp.devneo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;

/**
 * Runs a real Neo4j Community DBMS in embedded mode with Bolt on 127.0.0.1:PORT and
 * auth disabled, until the JVM gets SIGTERM/SIGINT. Dev/test use only.
 *
 * <p>Usage: {@code Main HOME_DIR PORT [LOGS_DIR]}. HOME_DIR holds the store (the caller
 * deletes it afterwards). Memory can be tuned through the environment:
 * NEO4J_PAGECACHE (default 256m), NEO4J_TX_TOTAL_MAX (default 256m),
 * NEO4J_TX_MAX (default 128m).
 *
 * <p>With NEO4J_BOLT_TLS_DIR naming a folder that holds {@code private.key} and
 * {@code public.crt} (PEM), Bolt also accepts TLS on the same port (encryption level
 * OPTIONAL): plain {@code bolt://} and {@code neo4j://} keep working, and {@code bolt+s://}
 * and {@code neo4j+s://} connect encrypted.
 *
 * <p>Prints a line starting with {@value #READY_MARKER} once the default database is
 * available and answers Cypher; ./start waits for it.
 */
public final class Main {
    static final String READY_MARKER = "CDP-NEO4J READY";

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Main HOME_DIR PORT [LOGS_DIR]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        Path logs = args.length > 2 ? Path.of(args[2]).toAbsolutePath() : home.resolve("logs");
        Files.createDirectories(home);
        Files.createDirectories(logs);

        long t0 = System.nanoTime();
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.logs_directory, logs)
                // Dev server: don't keep Bolt's netty event loops idling 5 s (twice) at shutdown.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                // server.memory.pagecache.size
                .setConfig(GraphDatabaseSettings.pagecache_memory, bytes("NEO4J_PAGECACHE", "256m"))
                // dbms.memory.transaction.total.max
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size,
                        bytes("NEO4J_TX_TOTAL_MAX", "256m"))
                // db.memory.transaction.max
                .setConfig(GraphDatabaseSettings.memory_transaction_max_size, bytes("NEO4J_TX_MAX", "128m"))
                // db.tx_log.rotation.retention_policy: keep no transaction log
                // beyond the one being written, so erased values do not linger
                // in old logs of a development database.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "keep_none");
        String tlsDir = System.getenv("NEO4J_BOLT_TLS_DIR");
        if (tlsDir != null && !tlsDir.isBlank()) {
            Path dir = Path.of(tlsDir.trim()).toAbsolutePath();
            // Neo4j wants these two folders to exist even when it checks no client.
            Files.createDirectories(dir.resolve("trusted"));
            Files.createDirectories(dir.resolve("revoked"));
            SslPolicyConfig bolt = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
            builder.setConfig(bolt.enabled, true)
                    .setConfig(bolt.base_directory, dir)
                    .setConfig(bolt.client_auth, ClientAuth.NONE)
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.OPTIONAL);
        }
        DatabaseManagementService dbms = builder.build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("cdp-neo4j: shutting down");
            try {
                dbms.shutdown();
            } finally {
                System.out.println("cdp-neo4j: stopped");
                System.out.flush();
                stopped.countDown();
            }
        }, "cdp-neo4j-shutdown"));

        String dbName = GraphDatabaseSettings.DEFAULT_DATABASE_NAME; // "neo4j"
        GraphDatabaseService db = dbms.database(dbName);
        if (!db.isAvailable(120_000)) {
            System.err.println("cdp-neo4j: database '" + dbName + "' not available after 120 s");
            System.exit(1);
        }
        String version = "?";
        try (Transaction tx = db.beginTx();
                Result r = tx.execute("CALL dbms.components() YIELD name, versions, edition "
                        + "RETURN name, versions[0] AS v, edition")) {
            while (r.hasNext()) {
                Map<String, Object> row = r.next();
                version = row.get("name") + " " + row.get("v") + " " + row.get("edition");
            }
            tx.commit();
        }
        System.out.printf("%s bolt://127.0.0.1:%d database=%s version=%s (%d ms)%n",
                READY_MARKER, port, dbName, version, (System.nanoTime() - t0) / 1_000_000);
        System.out.flush();
        stopped.await();
    }

    private static long bytes(String envName, String dflt) {
        String v = System.getenv(envName);
        return ByteUnit.parse(v == null || v.isBlank() ? dflt : v.trim());
    }
}
