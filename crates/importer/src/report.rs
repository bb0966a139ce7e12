//! What an import found and did (or, for `plan`, would do), per legacy table: the counts, every
//! merge, skip and rename with its reason and legacy id, and how often each value mapping applied.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// What became of one legacy row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New: a row of this LMS was created for it.
    Created,
    /// Imported before and changed since: its row was brought up to date.
    Updated,
    /// Imported before and unchanged.
    Unchanged,
    /// Folded into another row (a duplicate account, say).
    Merged,
    /// Not imported, with a reason.
    Skipped,
}

impl Outcome {
    /// As stored in `import_map.outcome`: `created`, `merged` or `skipped`.
    pub fn stored(self) -> &'static str {
        match self {
            Outcome::Created | Outcome::Updated | Outcome::Unchanged => "created",
            Outcome::Merged => "merged",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A merge, skip or rename: which legacy row, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub legacy_id: i64,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TableReport {
    pub found: u64,
    /// How long this table took (`run`: read, write and commit; `plan`: read and decide).
    pub seconds: f64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub merged: u64,
    pub skipped: u64,
    /// Every merged row, with its reason.
    pub merges: Vec<Note>,
    /// Every skipped row, with its reason.
    pub skips: Vec<Note>,
    /// Rows imported with a changed identity (a username renamed), with the reason.
    pub renames: Vec<Note>,
    /// Legacy values without an exact counterpart, and how many rows each mapping applied to.
    pub mappings: BTreeMap<String, u64>,
    /// Why nothing was imported from this table (it is reported only), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_only: Option<String>,
}

impl TableReport {
    pub fn count(&mut self, outcome: Outcome) {
        *match outcome {
            Outcome::Created => &mut self.created,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::Merged => &mut self.merged,
            Outcome::Skipped => &mut self.skipped,
        } += 1;
    }

    pub fn mapped(&mut self, mapping: &str) {
        *self.mappings.entry(mapping.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, legacy_id: i64, reason: impl Into<String>) {
        self.merges.push(Note {
            legacy_id,
            reason: reason.into(),
        });
    }

    pub fn skip(&mut self, legacy_id: i64, reason: impl Into<String>) {
        self.skips.push(Note {
            legacy_id,
            reason: reason.into(),
        });
    }

    pub fn rename(&mut self, legacy_id: i64, reason: impl Into<String>) {
        self.renames.push(Note {
            legacy_id,
            reason: reason.into(),
        });
    }
}

/// The whole report, tables in import order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// `plan` (nothing written) or `run`.
    pub mode: String,
    /// `run`: the backup taken first (none with --no-backup).
    pub backup: Option<String>,
    pub tables: Vec<(String, TableReport)>,
}

/// On screen, the first this many rows of each reason (`--json` lists all).
const SHOWN_PER_REASON: usize = 20;

impl Report {
    pub fn table(&mut self, name: &str) -> &mut TableReport {
        if let Some(i) = self.tables.iter().position(|(n, _)| n == name) {
            return &mut self.tables[i].1;
        }
        self.tables.push((name.to_string(), TableReport::default()));
        &mut self.tables.last_mut().expect("just pushed").1
    }

    pub fn to_json(&self) -> serde_json::Value {
        let tables: serde_json::Map<String, serde_json::Value> = self
            .tables
            .iter()
            .map(|(name, t)| (name.clone(), serde_json::to_value(t).unwrap_or_default()))
            .collect();
        serde_json::json!({ "mode": self.mode, "backup": self.backup, "tables": tables })
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (name, t) in &self.tables {
            if let Some(why) = &t.reported_only {
                let _ = writeln!(out, "{name}: {} rows, not imported ({why})", t.found);
                continue;
            }
            let _ = writeln!(
                out,
                "{name}: {} found, {} created, {} updated, {} unchanged, {} merged, {} skipped",
                t.found, t.created, t.updated, t.unchanged, t.merged, t.skipped
            );
            for (kind, notes) in [
                ("merged", &t.merges),
                ("skipped", &t.skips),
                ("renamed", &t.renames),
            ] {
                let mut by_reason: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
                for note in notes {
                    by_reason
                        .entry(note.reason.as_str())
                        .or_default()
                        .push(note.legacy_id);
                }
                for (reason, ids) in by_reason {
                    let shown: Vec<String> = ids
                        .iter()
                        .take(SHOWN_PER_REASON)
                        .map(i64::to_string)
                        .collect();
                    let more = if ids.len() > SHOWN_PER_REASON {
                        format!(
                            " and {} more (--json lists all)",
                            ids.len() - SHOWN_PER_REASON
                        )
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "  {kind}, {reason}: {} (legacy ids {}{more})",
                        ids.len(),
                        shown.join(", ")
                    );
                }
            }
            for (mapping, n) in &t.mappings {
                let _ = writeln!(out, "  mapped, {mapping}: {n}");
            }
        }
        out
    }
}
