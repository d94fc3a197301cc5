//! STUB (replaced by the helm-core branch).
use super::version::Constraint;
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
    pub digest: Option<String>,
    pub created: Option<String>,
    pub app_version: Option<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{message}")]
    Malformed { message: String },
}
pub fn select(_index: &[u8], _chart: &str, _c: &Constraint) -> Result<IndexEntry, IndexError> {
    Err(IndexError::Malformed {
        message: "stub".into(),
    })
}
pub fn chart_url(_repo: &str, entry: &str) -> Result<String, IndexError> {
    Ok(entry.to_string())
}
