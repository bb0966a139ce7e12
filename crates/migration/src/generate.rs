//! `migration generate NAME`: a new numbered migration file, registered in lib.rs.
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = r#"//! Describe what this migration changes and why.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // For example:
        // manager.alter_table(Table::alter().table("users").add_column(ColumnDef::new("timezone").string().null()).to_owned()).await
        let _ = manager;
        Err(DbErr::Migration("this migration's up() has not been written yet".into()))
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let _ = manager;
        Err(DbErr::Migration("this migration's down() has not been written yet".into()))
    }
}
"#;

/// Writes `mNNNN_<name>.rs` into `dir` (NNNN = the next free number) and adds it to `dir/lib.rs`.
pub fn generate(dir: &Path, name: &str) -> io::Result<PathBuf> {
    let valid = !name.is_empty()
        && name.len() <= 60
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(invalid(format!(
            "migration name {name:?} must be snake_case: lowercase letters, digits and _, starting with a letter"
        )));
    }
    let lib_path = dir.join("lib.rs");
    let lib = fs::read_to_string(&lib_path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", lib_path.display())))?;

    let next = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| migration_number(&entry.file_name().to_string_lossy()))
        .max()
        .unwrap_or(0)
        + 1;
    let module = format!("m{next:04}_{name}");
    let file = dir.join(format!("{module}.rs"));

    let lib = insert_after_last(&lib, "mod m", &format!("mod {module};"))?;
    let lib = insert_after_last(
        &lib,
        "Box::new(m",
        &format!("Box::new({module}::Migration),"),
    )?;
    fs::write(&file, TEMPLATE)?;
    fs::write(&lib_path, lib)?;
    Ok(file)
}

fn migration_number(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('m')?.strip_suffix(".rs")?;
    let (digits, _) = rest.split_once('_')?;
    (digits.len() == 4).then(|| digits.parse().ok()).flatten()
}

/// Inserts `line` after the last line that starts (after indentation) with `prefix`, same indent.
fn insert_after_last(text: &str, prefix: &str, line: &str) -> io::Result<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with(prefix))
        .ok_or_else(|| invalid(format!("lib.rs has no line starting with `{prefix}`")))?;
    let indent: String = lines[at]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(at + 1, format!("{indent}{line}"));
    Ok(out.join("\n") + "\n")
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
