//! The manifest's JSON shape, as `serde` structs with every value in its
//! text form. Unknown members are refused at every level: everything in a
//! manifest is signed, so a member this version does not understand would
//! be signed but silently ignored. [`super::validate`] turns these into the
//! typed [`super::Manifest`]. Strings borrow from the parsed JSON when
//! they can (no copy on the verification path).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The whole signed document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Doc<'a> {
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    pub version: u64,
    #[serde(borrow)]
    pub creator: Cow<'a, str>,
    #[serde(borrow)]
    pub created: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub infohash_v2: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub infohash_v1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub piece_length: Cow<'a, str>,
    #[serde(borrow)]
    pub files: Vec<FileDoc<'a>>,
    #[serde(borrow)]
    pub license: LicenseDoc<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub payment: Option<PaymentDoc<'a>>,
    /// The Data Integrity proof; checked by [`crate::di`], not here.
    #[serde(default, skip_serializing)]
    pub proof: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FileDoc<'a> {
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    #[serde(borrow)]
    pub length: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub pieces_root: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LicenseDoc<'a> {
    #[serde(borrow)]
    pub spdx: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub terms: Option<TermsDoc<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TermsDoc<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub regions: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commercial_use: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub distribution_limit: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PaymentDoc<'a> {
    #[serde(borrow)]
    pub address: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub splits: Option<Vec<SplitDoc<'a>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SplitDoc<'a> {
    #[serde(borrow)]
    pub account: Cow<'a, str>,
    pub bps: u64,
}
