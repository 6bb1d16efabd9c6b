// Drives Cairn through node's mysql2 driver and prints what it observed as one JSON object,
// for tests/test_mysql_clients.py to check.
const mysql = require("mysql2/promise");

async function main() {
  const [port, db] = process.argv.slice(2);
  const conn = await mysql.createConnection({ host: "127.0.0.1", port: Number(port), user: "root" });
  const seen = {};
  await conn.query(`CREATE DATABASE ${db}`);
  await conn.query(`CREATE TABLE ${db}.items (id INT, name VARCHAR(20), price DECIMAL(10,2), qty BIGINT, `
    + "ratio DOUBLE, day DATE) DISTRIBUTED BY HASH(id)");
  await conn.changeUser({ database: db });
  const [inserted] = await conn.query("INSERT INTO items VALUES (1, 'pen', 1.50, 10, 0.5, '2024-01-02'), "
    + "(2, 'ink', 2.25, 20, 0.25, NULL)");
  seen.query_affected = inserted.affectedRows;
  const [executed] = await conn.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
    [3, "it's", "9.99", 30, 1.5, "2024-03-04"]);
  seen.execute_affected = executed.affectedRows;
  const [copied] = await conn.execute("INSERT INTO items SELECT id + 10, name, price, qty, ratio, day FROM items WHERE id < ?", [3]);
  seen.execute_select_affected = copied.affectedRows;
  const [rows, fields] = await conn.execute(
    "SELECT id, name, price, qty, ratio, day FROM items WHERE id >= ? AND name <> ? ORDER BY id", [2, "x' OR '1'='1"]);
  seen.execute_rows = rows.map((r) => [r.id, r.name, r.price, r.qty, r.ratio,
    r.day === null ? null : r.day.toISOString().slice(0, 10)]);
  seen.execute_types = fields.map((f) => [f.name, f.columnType]);
  const [qrows, qfields] = await conn.query("SELECT id, name, price FROM items WHERE id = 1");
  seen.query_rows = qrows.map((r) => [r.id, r.name, r.price]);
  seen.query_types = qfields.map((f) => [f.name, f.columnType]);
  const [again] = await conn.execute("SELECT count(*) AS n FROM items WHERE id >= ? AND name <> ?", [0, ""]);
  seen.execute_again = again[0].n;
  try {
    await conn.query("SELECT 1; SELECT 2");
    seen.stacked_without_flag = "ran";
  } catch (err) {
    seen.stacked_without_flag = err.errno;
  }
  await conn.end();
  const multi = await mysql.createConnection({ host: "127.0.0.1", port: Number(port), user: "root",
    database: db, multipleStatements: true });
  const [sets] = await multi.query("SELECT 1 AS a; INSERT INTO items (id) VALUES (40), (41); SELECT 'x' AS b");
  seen.multi = [sets[0], sets[1].affectedRows, sets[2]];
  await multi.end();
  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.log(JSON.stringify({ error: String(err.message), code: err.errno }));
  process.exit(1);
});
