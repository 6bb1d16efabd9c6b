// Drives Cairn through a real JDBC driver (MariaDB Connector/J) and prints what it observed,
// one "key=value" line each, for tests/test_mysql_clients.py to check.
import java.math.BigDecimal;
import java.sql.*;
import java.util.ArrayList;
import java.util.List;

public class JdbcCheck {
    static void say(String key, Object value) {
        System.out.println(key + "=" + value);
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String db = args[1];
        try (Connection conn = DriverManager.getConnection(url)) {
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("CREATE DATABASE " + db);
                st.executeUpdate("CREATE TABLE " + db + ".items (id INT, name VARCHAR(20), price DECIMAL(10,2), "
                        + "at DATETIME) DISTRIBUTED BY HASH(id)");
                say("insert_values", st.executeUpdate("INSERT INTO " + db + ".items VALUES "
                        + "(1, 'pen', 1.50, '2024-01-02 03:04:05'), (2, 'ink', 2.25, NULL)"));
                say("insert_select", st.executeUpdate("INSERT INTO " + db + ".items SELECT id + 10, name, price, at FROM "
                        + db + ".items"));
            }
            conn.setCatalog(db);
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO items VALUES (?, ?, ?, ?)")) {
                ps.setInt(1, 3);
                ps.setString(2, "O'Brien \\ ?");
                ps.setBigDecimal(3, new BigDecimal("9.99"));
                ps.setTimestamp(4, Timestamp.valueOf("2024-05-06 07:08:09"));
                say("insert_prepared", ps.executeUpdate());
                List<String> counts = new ArrayList<>();
                for (int id = 20; id < 23; id++) {
                    ps.setInt(1, id);
                    ps.setString(2, "batch" + id);
                    ps.setNull(3, Types.DECIMAL);
                    ps.setNull(4, Types.TIMESTAMP);
                    ps.addBatch();
                }
                for (int c : ps.executeBatch()) counts.add(String.valueOf(c));
                say("batch_counts", String.join(",", counts));
            }
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id, name, price, at FROM items WHERE id >= ? AND name <> ? ORDER BY id")) {
                ResultSetMetaData before = ps.getMetaData();
                say("prepared_meta_columns", before == null ? "null" : String.valueOf(before.getColumnCount()));
                ps.setInt(1, 2);
                ps.setString(2, "x' OR '1'='1");
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData meta = rs.getMetaData();
                    List<String> cols = new ArrayList<>();
                    for (int i = 1; i <= meta.getColumnCount(); i++) {
                        cols.add(meta.getColumnLabel(i) + ":" + meta.getColumnType(i));
                    }
                    say("columns", String.join(",", cols));
                    List<String> rows = new ArrayList<>();
                    while (rs.next()) {
                        rows.add(rs.getInt(1) + "|" + rs.getString(2) + "|" + rs.getBigDecimal(3) + "|" + rs.getTimestamp(4));
                    }
                    say("rows", String.join(";", rows));
                }
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM items")) {
                rs.next();
                say("count", rs.getLong(1));
            }
            DatabaseMetaData md = conn.getMetaData();
            List<String> catalogs = new ArrayList<>();
            try (ResultSet rs = md.getCatalogs()) {
                while (rs.next()) catalogs.add(rs.getString("TABLE_CAT"));
            }
            say("catalogs", String.join(",", catalogs));
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(db, null, "%", null)) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            }
            say("tables", String.join(",", tables));
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = md.getColumns(db, null, "items", "%")) {
                while (rs.next()) columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
            }
            say("table_columns", String.join(",", columns));
        }
        // With allowMultiQueries the driver sends a Statement batch as one multi-statement query.
        try (Connection conn = DriverManager.getConnection(url + "&allowMultiQueries=true");
             Statement st = conn.createStatement()) {
            for (int id = 30; id < 33; id++) {
                st.addBatch("INSERT INTO " + db + ".items (id, name) VALUES (" + id + ", 'multi')");
            }
            List<String> counts = new ArrayList<>();
            for (int c : st.executeBatch()) counts.add(String.valueOf(c));
            say("multi_batch_counts", String.join(",", counts));
            List<String> results = new ArrayList<>();
            boolean isResultSet = st.execute("SELECT 'a'; SELECT count(*) FROM " + db + ".items WHERE name = 'multi'");
            while (isResultSet) {
                try (ResultSet rs = st.getResultSet()) {
                    rs.next();
                    results.add(rs.getString(1));
                }
                isResultSet = st.getMoreResults();
            }
            say("multi_results", String.join(",", results));
        }
        say("done", "true");
    }
}
