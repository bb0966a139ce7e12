//! Seeder throughput: `seeder run --scale N` (release) on PostgreSQL, SQLite and (with a MySQL URL)
//! MariaDB/MySQL, next to each server's own bulk load of the same chat-message rows into a table
//! shaped like chat_messages (same columns, defaults, checks, indexes and foreign keys), measured in the
//! same run: PostgreSQL `COPY`, MySQL `LOAD DATA LOCAL INFILE`.
use std::process::Command;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Volume scale: N courses, 100*N users, ~200*N enrollments, 1000*N chat messages.
    #[arg(long, default_value_t = 1000)]
    scale: u32,
    /// A PostgreSQL URL whose role may CREATE DATABASE (scripts/bench.sh starts a throwaway server).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres_url: String,
    /// A MySQL/MariaDB URL whose user may CREATE DATABASE (scripts/bench.sh starts a throwaway MariaDB
    /// unless this is set).
    #[arg(long, env = "BENCH_MYSQL_URL")]
    mysql_url: Option<String>,
}

/// `program` (the `mariadb` client, `mariadb-slap`; their `mysql` names where those are what is
/// installed) on the server of `url`, whose form is `mysql://user[:password]@host[:port][/database]`,
/// in that database.
pub fn mariadb_tool(url: &str, program: &str) -> anyhow::Result<Command> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("not a URL: {url}"))?;
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (credentials, location) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let (server, database) = location.split_once('/').unwrap_or((location, ""));
    let (host, port) = server.split_once(':').unwrap_or((server, "3306"));
    let mysql_name = program.replacen("mariadb", "mysql", 1);
    let found = [program, mysql_name.as_str()]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .ok_or_else(|| anyhow::anyhow!("neither `{program}` nor `{mysql_name}` is installed"))?;
    let mut cmd = Command::new(found);
    cmd.args(["--protocol=tcp", "-h", host, "-P", port, "-u", user]);
    if !password.is_empty() {
        cmd.env("MYSQL_PWD", password);
    }
    if !database.is_empty() {
        if program == "mariadb" {
            cmd.arg(database);
        } else {
            cmd.arg(format!("--create-schema={database}"));
        }
    }
    Ok(cmd)
}

/// Runs `sql` with the client and answers its standard output.
pub fn mariadb_run(url: &str, extra: &[&str], sql: &str) -> anyhow::Result<String> {
    let out = mariadb_tool(url, "mariadb")?
        .args(extra)
        .args(["-e", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "mariadb client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// Per seeder: (name, rows, rows per second).
type SeederRates = Vec<(String, u64, f64)>;

/// Runs the seeder and returns (total seconds, [(seeder, rows, rows/s)]).
pub fn seed(
    database_url: &str,
    scale: u32,
    cwd: &std::path::Path,
) -> anyhow::Result<(f64, SeederRates)> {
    let started = Instant::now();
    let out = Command::new(crate::sibling_binary("seeder")?)
        .args(["run", "--scale", &scale.to_string()])
        .current_dir(cwd)
        .env("DATABASE_URL", database_url)
        .env("LMS_SECRET_KEY", crate::server::SECRET)
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "seeder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "volume_chat_messages   1000000 rows in   12345 ms (81000 rows/s)"
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 7 && words[2] == "rows" && words[3] == "in" {
            let count = words[1].parse().unwrap_or(0);
            let rate = words[6].trim_start_matches('(').parse().unwrap_or(0.0);
            rows.push((words[0].to_string(), count, rate));
        }
    }
    Ok((seconds, rows))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let name = format!("lms_bench_seed_{}", std::process::id());
    psql(&args.postgres_url, &format!("CREATE DATABASE {name}"))?;
    let pg = with_database(&args.postgres_url, &name);
    let result = measure(&args, &pg, dir.path());
    let _ = psql(
        &args.postgres_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    result?;
    let Some(server) = &args.mysql_url else {
        return Ok(());
    };
    mariadb_run(server, &[], &format!("CREATE DATABASE {name}"))?;
    let mysql = with_database(server, &name);
    let result = measure_mysql(&args, &mysql, dir.path());
    let _ = mariadb_run(server, &[], &format!("DROP DATABASE IF EXISTS {name}"));
    result
}

/// The seeder on MySQL/MariaDB (multi-row INSERTs), next to `LOAD DATA LOCAL INFILE` of the same
/// message rows into a copy of chat_messages with the same indexes, checks and foreign keys.
fn measure_mysql(args: &Args, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (seconds, rows) = seed(url, args.scale, dir)?;
    let columns = "id, course_id, user_id, parent_id, message_type, content, edit_count, metadata, created_at, updated_at";
    // Tab-separated, unescaped (the volume texts hold no tabs or newlines), NULL as \N.
    // SQL '\\N' is the two characters \N, LOAD DATA's NULL.
    let select = "SELECT id, course_id, COALESCE(user_id, '\\\\N'), COALESCE(parent_id, '\\\\N'), \
        message_type, content, edit_count, metadata, created_at, updated_at FROM chat_messages \
        WHERE content LIKE 'Volume message %' ORDER BY id";
    let tsv = mariadb_run(url, &["-B", "-N", "-r"], select)?;
    let file = dir.join("messages.tsv");
    std::fs::write(&file, tsv)?;
    let messages = u64::from(args.scale) * 1000;
    mariadb_run(
        url,
        &[],
        "CREATE TABLE copy_bench LIKE chat_messages; \
         ALTER TABLE copy_bench ADD FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE, \
         ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL, \
         ADD FOREIGN KEY (parent_id) REFERENCES copy_bench (id) ON DELETE CASCADE",
    )?;
    let started = Instant::now();
    mariadb_run(
        url,
        &["--local-infile=1"],
        &format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE copy_bench ({columns})",
            file.display()
        ),
    )?;
    let load_rate = messages as f64 / started.elapsed().as_secs_f64();
    // LOCAL turns refused rows into warnings: count what arrived.
    let loaded = mariadb_run(url, &["-B", "-N"], "SELECT COUNT(*) FROM copy_bench")?;
    anyhow::ensure!(
        loaded.trim() == messages.to_string(),
        "LOAD DATA loaded {} of {messages} rows",
        loaded.trim()
    );
    println!(
        "seeder on MariaDB/MySQL (multi-row INSERT), --scale {}",
        args.scale
    );
    for (name, count, rate) in &rows {
        println!("  {name:<22} {count:>10} {rate:>14.0} rows/s");
    }
    println!("  whole run: {seconds:.1} s");
    let chat = rows
        .iter()
        .find(|(n, _, _)| n == "volume_chat_messages")
        .map_or(0.0, |(_, _, r)| *r);
    println!(
        "  LOAD DATA LOCAL INFILE of the same {messages} rows (same indexes, checks, foreign keys): {load_rate:.0} rows/s"
    );
    println!(
        "  chat messages: seeder / LOAD DATA = {:.2} (target >= 0.5)",
        chat / load_rate
    );
    Ok(())
}

fn measure(args: &Args, pg: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (pg_seconds, pg_rows) = seed(pg, args.scale, dir)?;
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let (sqlite_seconds, sqlite_rows) = seed(&sqlite, args.scale, dir)?;

    // The raw limit: the very rows the seeder wrote, COPYed by PostgreSQL itself into a table with the
    // same columns, defaults, checks, indexes and foreign keys.
    let csv = dir.join("messages.csv");
    let columns = "id, course_id, user_id, parent_id, message_type, content, edit_count, metadata, created_at, updated_at";
    psql(
        pg,
        &format!(
            "\\copy (SELECT {columns} FROM chat_messages WHERE content LIKE 'Volume message %' ORDER BY id) TO '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    let messages = u64::from(args.scale) * 1000;
    psql(
        pg,
        "CREATE TABLE copy_bench (LIKE chat_messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES); \
         ALTER TABLE copy_bench ADD FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE, \
         ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL, \
         ADD FOREIGN KEY (parent_id) REFERENCES copy_bench (id) ON DELETE CASCADE",
    )?;
    let started = Instant::now();
    psql(
        pg,
        &format!(
            "\\copy copy_bench ({columns}) FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    let copy_rate = messages as f64 / started.elapsed().as_secs_f64();

    println!("seeder benchmark (release build, --scale {})", args.scale);
    println!(
        "  {:<22} {:>10} {:>14} {:>14}",
        "seeder", "rows", "PostgreSQL/s", "SQLite/s"
    );
    for (name, count, rate) in &pg_rows {
        let sqlite_rate = sqlite_rows
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or(0.0, |(_, _, r)| *r);
        println!("  {name:<22} {count:>10} {rate:>14.0} {sqlite_rate:>14.0}");
    }
    println!("  whole run: PostgreSQL {pg_seconds:.1} s, SQLite {sqlite_seconds:.1} s");
    let chat = pg_rows
        .iter()
        .find(|(n, _, _)| n == "volume_chat_messages")
        .map_or(0.0, |(_, _, r)| *r);
    println!(
        "  raw COPY of the same {messages} rows (same constraints and foreign keys): {copy_rate:.0} rows/s"
    );
    println!(
        "  chat messages: seeder / COPY = {:.2} (target >= 0.5)",
        chat / copy_rate
    );
    Ok(())
}
