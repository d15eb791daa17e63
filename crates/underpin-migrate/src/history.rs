//! Rows of the history table, as every driver returns them.

use crate::version::Version;

/// How far a recorded migration got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    /// Fully applied.
    Applied,
    /// A no-transaction migration whose first statement failed; nothing of it is applied.
    Failed,
    /// A no-transaction migration that stopped after some of its statements.
    Partial,
    /// Marked applied by `baseline` without running.
    Baseline,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Applied => "applied",
            RowStatus::Failed => "failed",
            RowStatus::Partial => "partial",
            RowStatus::Baseline => "baseline",
        }
    }

    pub fn parse(text: &str) -> Option<RowStatus> {
        match text {
            "applied" => Some(RowStatus::Applied),
            "failed" => Some(RowStatus::Failed),
            "partial" => Some(RowStatus::Partial),
            "baseline" => Some(RowStatus::Baseline),
            _ => None,
        }
    }

    /// Returns whether the migration's changes are in the database in full.
    pub fn is_complete(self) -> bool {
        matches!(self, RowStatus::Applied | RowStatus::Baseline)
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    pub version: Version,
    pub name: String,
    pub checksum: String,
    pub checksum_algorithm: String,
    pub status: RowStatus,
    /// When the row was last written, RFC 3339 in UTC (`2026-12-05T02:55:23.949823Z`).
    pub applied_at: String,
    pub execution_ms: i64,
    pub applied_by: String,
    /// For no-transaction migrations: statements that ran, and how many the script has.
    pub statements_done: Option<i32>,
    pub statements_total: Option<i32>,
    /// Checksum of the statements that ran, so a resume can tell whether they changed.
    pub progress_checksum: Option<String>,
    /// The error of the last failed attempt, for failed and partial rows.
    pub error: Option<String>,
}
