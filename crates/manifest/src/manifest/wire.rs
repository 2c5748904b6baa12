//! The manifest's JSON shape, as `serde` structs with every value in its
//! text form. Unknown members are refused at every level: everything in a
//! manifest is signed, so a member this version does not understand would
//! be signed but silently ignored. [`super::validate`] turns these into the
//! typed [`super::Manifest`].

use serde::{Deserialize, Serialize};

/// The whole signed document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Doc {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u64,
    pub creator: String,
    pub created: String,
    pub name: String,
    pub infohash_v2: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infohash_v1: Option<String>,
    pub piece_length: String,
    pub files: Vec<FileDoc>,
    pub license: LicenseDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentDoc>,
    /// The Data Integrity proof; checked by [`crate::di`], not here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FileDoc {
    pub path: String,
    pub length: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces_root: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LicenseDoc {
    pub spdx: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<TermsDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TermsDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commercial_use: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PaymentDoc {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<Vec<SplitDoc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SplitDoc {
    pub account: String,
    pub bps: u64,
}
