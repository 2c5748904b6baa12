//! `btl verify`: is this torrent what its creator published?

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use btl_manifest::prov::{self, ProvFile};
use btl_manifest::{di, Account, SignedManifest};
use btl_metainfo::torrent::Torrent;
use btl_store::{Layout, PieceHashes, Preallocate, Storage, StorageOptions};
use serde_json::{json, Value};

use crate::input::{self, Source};

/// Check a torrent's provenance: who signed it, under which license, and
/// that the torrent (and with --data, the files on disk) are exactly what
/// was signed.
///
/// INPUT is a .prov file (the signed manifest, as `btl manifest sign`
/// writes it) or a .torrent/.btl file. The other half is found beside it:
/// <v2 infohash>.prov next to a torrent, or the torrent with that infohash
/// next to a .prov file (or say --prov / --torrent).
///
/// Checks, each reported with its reason: the .prov file is well formed;
/// every manifest field is valid; the eddsa-jcs-2022 signature verifies and
/// was made by the manifest's creator; the torrent's infohashes, files and
/// BEP 52 pieces roots are the manifest's; with --data, every piece on disk
/// hashes to the torrent's hashes; the receipt verifies against the
/// validators' keys (from --trust FILE, or fetched from the ledger) and
/// registers this manifest; the ledger's record names this manifest (or an
/// earlier record of its license history); the creator key is not revoked
/// (a rotated key's earlier manifests stay valid). With --offline the
/// ledger is not contacted and what needs it is reported as not checked.
///
/// Exit status 0 only when every check that ran holds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .prov, .torrent or .btl file.
    pub input: String,
    /// The torrent, when INPUT is a .prov file [default: the .torrent or
    /// .btl with the manifest's infohash in the same directory].
    #[arg(long, value_name = "FILE")]
    pub torrent: Option<PathBuf>,
    /// The .prov file, when INPUT is a torrent [default: <v2 infohash>.prov
    /// beside it].
    #[arg(long, value_name = "FILE")]
    pub prov: Option<PathBuf>,
    /// Also check the files on disk: the directory that contains the
    /// payload (the torrent's name inside it), as for btl seed --data.
    /// Without a torrent (a magnet link), each file is hashed into its
    /// BEP 52 root and compared with the root the creator signed.
    #[arg(long, value_name = "DIR", env = "BTL_DATA")]
    pub data: Option<PathBuf>,
    /// Never contact the ledger: check the receipt against --trust FILE
    /// only, and report the ledger record and key status as not checked.
    #[arg(long, env = "BTL_OFFLINE")]
    pub offline: bool,
    /// The ledger node's HTTP API (for the record, the key status and the
    /// validators' keys).
    #[arg(long, env = "BTL_LEDGER", value_name = "URL", default_value = btl_registry::DEFAULT_LEDGER_URL)]
    pub ledger: String,
    /// The validators' keys for checking receipts offline: a saved
    /// `GET /registry/verifiers` answer (curl URL/registry/verifiers > FILE).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Hashing threads for --data [default: all cores].
    #[arg(long, env = "BTL_THREADS")]
    pub threads: Option<usize>,
    /// Print one JSON object (verdict, checks, manifest).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// How one check came out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Failed,
    NotChecked,
}

struct Check {
    name: &'static str,
    status: Status,
    detail: String,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
    manifest: Option<SignedManifest>,
    prov_path: Option<PathBuf>,
    torrent_path: Option<PathBuf>,
}

impl Report {
    fn add(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn failed(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Failed)
    }
}

/// Largest file read as INPUT (a .torrent can be 64 MiB; a .prov less).
fn max_input() -> u64 {
    input::MAX_TORRENT_FILE.max(prov::MAX_PROV_BYTES as u64)
}

fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let from_magnet = args.input.starts_with("magnet:");
    let (path, bytes) = if from_magnet {
        if args.offline {
            bail!(
                "verifying a magnet link needs the ledger to find its manifest; drop --offline, \
                 or verify the .prov file or the .torrent instead"
            );
        }
        (
            PathBuf::from(format!("{} (registry)", args.ledger)),
            resolve_magnet(&args.input, &args.ledger)?,
        )
    } else {
        let path = PathBuf::from(&args.input);
        let bytes = input::read_capped(&path, max_input())?;
        (path, bytes)
    };
    let mut report = Report::default();
    let mut torrent: Option<(PathBuf, Box<Torrent>)> = None;
    let prov_bytes = if looks_like_json(&bytes) {
        report.prov_path = Some(path.clone());
        Some(bytes)
    } else {
        let t = load_torrent(&path)?;
        let prov_path = match &args.prov {
            Some(p) => p.clone(),
            None => {
                let Some(v2) = t.info_hashes().v2() else {
                    bail!(
                        "{} is a v1-only torrent: it cannot have a provenance manifest (manifests anchor v2 roots)",
                        path.display()
                    );
                };
                let p = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .join(prov::file_name(&v2));
                if !p.exists() {
                    bail!(
                        "no provenance file for {}: {} does not exist (say --prov FILE)",
                        path.display(),
                        p.display()
                    );
                }
                p
            }
        };
        torrent = Some((path.clone(), t));
        report.prov_path = Some(prov_path.clone());
        Some(input::read_capped(&prov_path, prov::MAX_PROV_BYTES as u64)?)
    };
    if let Some(p) = &args.torrent {
        torrent = Some((p.clone(), load_torrent(p)?));
    }

    // 1-3: the .prov file, the manifest's fields, the signature.
    let prov_bytes = prov_bytes.unwrap_or_default();
    let checked = check_prov(&mut report, &prov_bytes);

    // 4: the torrent.
    if let Some(signed) = &checked {
        if torrent.is_none() {
            let dir = report
                .prov_path
                .as_deref()
                .and_then(Path::parent)
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            torrent = find_torrent(dir, signed);
        }
        match &torrent {
            None => report.add(
                "torrent",
                Status::NotChecked,
                "no torrent with this infohash beside the .prov file (say --torrent FILE)",
            ),
            Some((tp, t)) => {
                report.torrent_path = Some(tp.clone());
                match signed.manifest().check_torrent(t) {
                    Ok(()) => report.add(
                        "torrent",
                        Status::Ok,
                        format!(
                            "{} matches: infohashes, {} files, their lengths and pieces roots",
                            tp.display(),
                            signed.manifest().files.len()
                        ),
                    ),
                    Err(e) => report.add(
                        "torrent",
                        Status::Failed,
                        format!("{} does not match the manifest: {e}", tp.display()),
                    ),
                }
            }
        }
    }

    // 5: the data on disk.
    if let Some(dir) = &args.data {
        match (&torrent, report.failed()) {
            (Some((_, t)), None) => check_data(&mut report, t, dir, args.threads, !args.json)?,
            (None, None) => match &checked {
                // No torrent (a magnet link): the files against the
                // pieces roots the creator signed.
                Some(signed) => check_data_roots(&mut report, signed.manifest(), dir),
                None => report.add(
                    "data",
                    Status::NotChecked,
                    "no manifest to check the data against",
                ),
            },
            (None, Some(_)) => report.add(
                "data",
                Status::NotChecked,
                "skipped: the manifest does not verify",
            ),
            (Some(_), Some(_)) => report.add(
                "data",
                Status::NotChecked,
                "skipped: the torrent is not the one the manifest describes",
            ),
        }
    }

    // 6-8: what needs the ledger: the receipt, the ledger record, the
    // creator key's status.
    if let Some(signed) = &checked {
        let receipt = ProvFile::parse(&prov_bytes).ok().and_then(|p| p.receipt);
        let src = crate::cmd::verify_ledger::Sources {
            offline: args.offline,
            ledger: &args.ledger,
            trust: args.trust.as_deref(),
        };
        for o in crate::cmd::verify_ledger::checks(signed, receipt.as_deref(), &src)? {
            let st = match o.ok {
                Some(true) => Status::Ok,
                Some(false) => Status::Failed,
                None => Status::NotChecked,
            };
            report.add(o.name, st, o.detail);
        }
    }

    print_report(&report, args.json)?;
    match report.failed() {
        None => Ok(()),
        Some(c) => bail!("verification failed: {}: {}", c.name, c.detail),
    }
}

/// Finds a magnet link's manifest and receipt through the ledger's
/// registry, as the text of a .prov file.
fn resolve_magnet(magnet: &str, ledger: &str) -> Result<Vec<u8>> {
    let m = match input::load(magnet)? {
        Source::Magnet(m) => m,
        Source::Torrent { .. } => bail!("not a magnet link"),
    };
    let hashes = m.infohashes().context("the magnet link has no infohash")?;
    let ih = match (hashes.v2(), hashes.v1()) {
        (Some(v2), _) => v2.to_hex(),
        (None, Some(v1)) => v1.to_hex(),
        (None, None) => bail!("the magnet link has no infohash"),
    };
    let rt = crate::cmd::registry_common::runtime()?;
    let client = btl_registry::RegistryClient::new(ledger)?;
    let view = rt
        .block_on(client.torrent(&ih))?
        .with_context(|| format!("torrent {ih} is not registered on the ledger at {ledger}"))?;
    let manifest = view
        .manifest
        .with_context(|| format!("the ledger at {ledger} holds no manifest for {ih}"))?;
    let mut doc = json!({"type": prov::PROV_TYPE, "version": 1, "manifest": manifest});
    if let Some(r) = view.receipt {
        doc["receipt"] = Value::String(r);
    }
    Ok(serde_json::to_vec(&doc)?)
}

fn load_torrent(path: &Path) -> Result<Box<Torrent>> {
    match input::load(&path.to_string_lossy())? {
        Source::Torrent { torrent, .. } => Ok(torrent),
        Source::Magnet(_) => bail!("{} is a magnet link, not a torrent file", path.display()),
    }
}

/// Parses and verifies the .prov file, adding the first three checks.
fn check_prov(report: &mut Report, bytes: &[u8]) -> Option<SignedManifest> {
    let prov_name = report
        .prov_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let prov = match ProvFile::parse(bytes) {
        Ok(p) => p,
        Err(e) => {
            report.add("prov file", Status::Failed, format!("{prov_name}: {e}"));
            return None;
        }
    };
    report.add("prov file", Status::Ok, prov_name);
    let (signed, prepared) = match prov.manifest_unverified() {
        Ok(x) => x,
        Err(btl_manifest::ManifestError::Proof(e)) => {
            report.add("manifest fields", Status::Ok, "every field is valid");
            report.add("signature", Status::Failed, e.to_string());
            return None;
        }
        Err(e @ btl_manifest::ManifestError::SignerNotCreator { .. }) => {
            report.add("manifest fields", Status::Ok, "every field is valid");
            report.add("signature", Status::Failed, e.to_string());
            return None;
        }
        Err(e) => {
            report.add("manifest fields", Status::Failed, e.to_string());
            return None;
        }
    };
    report.add("manifest fields", Status::Ok, "every field is valid");
    match di::verify_prepared(&prepared) {
        Ok(()) => {
            report.add(
                "signature",
                Status::Ok,
                format!(
                    "eddsa-jcs-2022, by the creator {}",
                    signed.manifest().creator
                ),
            );
            report.manifest = Some(signed.clone());
            Some(signed)
        }
        Err(e) => {
            report.add("signature", Status::Failed, e.to_string());
            None
        }
    }
}

/// The .torrent or .btl in `dir` whose v2 infohash is the manifest's (at
/// most 1000 candidates are opened).
fn find_torrent(dir: &Path, signed: &SignedManifest) -> Option<(PathBuf, Box<Torrent>)> {
    let want = signed.manifest().infohash_v2;
    let rd = std::fs::read_dir(dir).ok()?;
    let mut candidates: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "torrent" || x == "btl"))
        .take(1000)
        .collect();
    candidates.sort();
    candidates.into_iter().find_map(|p| {
        let t = load_torrent(&p).ok()?;
        (t.info_hashes().v2() == Some(want)).then_some((p, t))
    })
}

/// Hashes every file under `dir` into its BEP 52 root and compares it
/// with the manifest's (when there is no torrent, e.g. for a magnet link).
fn check_data_roots(report: &mut Report, m: &btl_manifest::Manifest, dir: &Path) {
    if !dir.is_dir() {
        report.add(
            "data",
            Status::Failed,
            format!("{} is not a directory", dir.display()),
        );
        return;
    }
    let (problems, bytes) = crate::cmd::verify_data::check(m, dir);
    if problems.is_empty() {
        report.add(
            "data",
            Status::Ok,
            format!(
                "all {} files under {} ({bytes} bytes) hash to the pieces roots the creator signed",
                m.files.len(),
                dir.display()
            ),
        );
        return;
    }
    report.add(
        "data",
        Status::Failed,
        format!(
            "{} of {} files do not match: {}",
            problems.len(),
            m.files.len(),
            first_ten(&problems)
        ),
    );
}

/// Hashes every piece under `dir` against the torrent (which the manifest
/// was just checked against). Creates and changes nothing on disk.
fn check_data(
    report: &mut Report,
    t: &Torrent,
    dir: &Path,
    threads: Option<usize>,
    show_progress: bool,
) -> Result<()> {
    if !dir.is_dir() {
        report.add(
            "data",
            Status::Failed,
            format!("{} is not a directory", dir.display()),
        );
        return Ok(());
    }
    let layout = Layout::from_torrent(t).context("cannot lay out the torrent's pieces")?;
    // Files missing or of the wrong size, before hashing.
    let mut problems: Vec<String> = Vec::new();
    for (_, f) in layout.real_files() {
        let p = dir.join(&f.path);
        match std::fs::metadata(&p) {
            Err(_) => problems.push(format!("{} is missing", f.path.display())),
            Ok(m) if m.len() != f.length => problems.push(format!(
                "{} is {} bytes, the torrent says {}",
                f.path.display(),
                m.len(),
                f.length
            )),
            Ok(_) => {}
        }
    }
    let options = StorageOptions {
        preallocate: Preallocate::None,
        // Open nothing for writing, create nothing: reads open files
        // read-only on demand.
        wanted: Some(vec![false; layout.file_count()]),
        ..StorageOptions::default()
    };
    let storage = Storage::open(dir, layout.clone(), options)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    let hashes = PieceHashes::from_torrent(t).context("cannot read the torrent's piece hashes")?;
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let total = layout.piece_count();
    // A progress bar on a terminal: hashing a large payload takes a while.
    let bar = (show_progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} checking [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let good = btl_store::recheck(&storage, &hashes, 0..total, threads, &|done, all| {
        if let Some(b) = &bar {
            b.set_length(all);
            b.set_position(done);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let bad: Vec<u32> = (0..total).filter(|&p| !good.get(p)).collect();
    if bad.is_empty() && problems.is_empty() {
        report.add(
            "data",
            Status::Ok,
            format!("all {total} pieces under {} hash correctly", dir.display()),
        );
        return Ok(());
    }
    // Name the files that hold bad pieces.
    for (i, f) in layout.real_files() {
        let n = layout
            .file_pieces(i)
            .filter(|p| bad.binary_search(p).is_ok())
            .count();
        let name = f.path.display().to_string();
        if n > 0 && !problems.iter().any(|p| p.starts_with(&name)) {
            problems.push(format!("{name}: {n} bad pieces"));
        }
    }
    report.add(
        "data",
        Status::Failed,
        format!(
            "{} of {total} pieces do not match: {}",
            bad.len(),
            first_ten(&problems)
        ),
    );
    Ok(())
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::NotChecked => "not checked",
    }
}

fn manifest_json(signed: &SignedManifest) -> Value {
    let m = signed.manifest();
    json!({
        "id": signed.id().to_hex(),
        "name": m.name,
        "creator": m.creator.to_string(),
        "creator_account": Account::of(&m.creator).to_string(),
        "created": btl_manifest::time::format_utc(m.created),
        "signed": signed.signed_at().map(btl_manifest::time::format_utc),
        "infohash_v2": m.infohash_v2.to_hex(),
        "infohash_v1": m.infohash_v1.map(|h| h.to_hex()),
        "files": m.files.len(),
        "total_length": m.files.iter().map(|f| f.length).sum::<u64>(),
        "license": {
            "spdx": m.license.spdx,
            "regions": m.license.terms.as_ref().and_then(|t| t.regions.clone()),
            "commercial_use": m.license.terms.as_ref().and_then(|t| t.commercial_use),
            "distribution_limit": m.license.terms.as_ref().and_then(|t| t.distribution_limit),
        },
        "payment": m.payment.as_ref().map(|p| json!({
            "address": p.address.to_string(),
            "splits": p.splits.iter().map(|s| json!({
                "account": s.account.to_string(),
                "bps": s.bps,
            })).collect::<Vec<_>>(),
        })),
    })
}

fn print_report(r: &Report, json: bool) -> Result<()> {
    let text = report_text(r, json)?;
    crate::output::print(&text);
    Ok(())
}

fn report_text(r: &Report, json: bool) -> Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let verdict = if r.failed().is_some() {
        "refused"
    } else {
        "verified"
    };
    if json {
        let v = json!({
            "verdict": verdict,
            "prov": r.prov_path.as_ref().map(|p| p.display().to_string()),
            "torrent": r.torrent_path.as_ref().map(|p| p.display().to_string()),
            "checks": r.checks.iter().map(|c| json!({
                "check": c.name,
                "status": status_name(c.status),
                "detail": c.detail,
            })).collect::<Vec<_>>(),
            "manifest": r.manifest.as_ref().map(manifest_json),
        });
        out.push_str(&serde_json::to_string_pretty(&v)?);
        out.push('\n');
        return Ok(out);
    }
    if let Some(s) = &r.manifest {
        let m = s.manifest();
        let mut row = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(out, "{k:<13}{v}");
        };
        row("Name:", &m.name);
        row("Creator:", &m.creator);
        row("Account:", &Account::of(&m.creator));
        let mut lic = m.license.spdx.clone();
        if let Some(t) = &m.license.terms {
            if let Some(r) = &t.regions {
                lic.push_str(&format!("; regions {}", r.join(",")));
            }
            if let Some(c) = t.commercial_use {
                lic.push_str(if c {
                    "; commercial use allowed"
                } else {
                    "; no commercial use"
                });
            }
            if let Some(n) = t.distribution_limit {
                lic.push_str(&format!("; at most {n} copies"));
            }
        }
        row("License:", &lic);
        if let Some(p) = &m.payment {
            let mut pay = p.address.to_string();
            for s in &p.splits {
                pay.push_str(&format!(
                    "\n             {} {}.{:02}%",
                    s.account,
                    s.bps / 100,
                    s.bps % 100
                ));
            }
            row("Pay to:", &pay);
        }
        row("Created:", &btl_manifest::time::format_utc(m.created));
        row("Infohash:", &m.infohash_v2);
        row("Manifest id:", &s.id());
        out.push('\n');
    }
    for c in &r.checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Failed => "FAIL",
            Status::NotChecked => "--  ",
        };
        let _ = writeln!(out, "  {mark}  {:<19} {}", c.name, c.detail);
    }
    out.push('\n');
    let _ = match r.failed() {
        None => writeln!(out, "Verdict: VERIFIED — signed by its creator{}", {
            let ok = |n: &str| {
                r.checks
                    .iter()
                    .any(|c| c.name == n && c.status == Status::Ok)
            };
            if ok("receipt") {
                "; registered on the ledger (receipt cosigned by its validators)"
            } else if ok("ledger") {
                "; registered on the ledger (no receipt checked)"
            } else {
                "; not anchored on the ledger (no receipt or ledger record checked)"
            }
        }),
        Some(c) => writeln!(out, "Verdict: REFUSED — {}", c.name),
    };
    Ok(out)
}

/// The first ten problems, `; `-separated, and how many more there are.
fn first_ten(problems: &[String]) -> String {
    let shown: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
    match problems.len() - shown.len() {
        0 => shown.join("; "),
        more => format!("{}; and {more} more", shown.join("; ")),
    }
}
