// The btl web UI: plain JavaScript over /api/v1, no build step.
// Everything from the network is put in the page with textContent, never
// as HTML (torrent names and peer client names are untrusted).
"use strict";

const API = "/api/v1";
const state = { selected: null, tab: "files", torrents: [] };

// ---------- HTTP ----------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body, contentType) {
  const headers = {};
  const token = localStorage.getItem("btl-token");
  if (token) headers["Authorization"] = "Bearer " + token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = contentType ? body : JSON.stringify(body);
  }
  const r = await fetch(API + path, { method, headers, body: payload });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!r.ok) {
    const err = (data && data.error) || { code: "http_" + r.status, message: text || r.statusText };
    if (r.status === 401) askToken();
    throw new ApiError(r.status, err.code, err.message);
  }
  return data;
}

function askToken() {
  const d = document.getElementById("token-dialog");
  if (!d.open) d.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  const v = document.getElementById("token-input").value.trim();
  if (v) localStorage.setItem("btl-token", v);
});

// ---------- formatting ----------

function bytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
const rate = (n) => (n ? bytes(n) + "/s" : "–");
const pct = (x) => (100 * x).toFixed(1) + "%";
const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "–");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// The provenance badge: the slot the trust layer fills (verified creator,
// license, revoked or unregistered warnings).
function badge(p) {
  const status = (p && p.status) || "unknown";
  const labels = {
    unknown: "not checked",
    verified: "✔ verified",
    unregistered: "⚠ unregistered",
    revoked: "✖ revoked",
    mismatch: "✖ mismatch",
  };
  let text = labels[status] || status;
  if (status === "verified" && p.license) text += " · " + p.license;
  const b = el("span", { class: "badge prov-" + status, "data-provenance": status }, text);
  if (p && p.reason) b.title = p.reason;
  if (status === "unregistered") b.title = "this torrent is not registered on the ledger: its creator is unknown";
  if (p && p.creator) {
    b.title = "creator: " + p.creator + (p.license ? "\nlicense: " + p.license : "") +
      (p.pay_to ? "\npays to: " + p.pay_to : "");
    b.dataset.creator = p.creator;
  }
  return b;
}

function progressBar(x) {
  const fill = el("div", { class: "fill" });
  fill.style.width = Math.max(0, Math.min(100, 100 * x)).toFixed(1) + "%";
  return el("div", { class: "progress", "data-progress": x.toFixed(4), title: pct(x) },
    fill, el("span", {}, pct(x)));
}

function table(headers, rows) {
  return el("table", { class: "sub" },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}

function notice(kind, text) {
  return el("div", { class: "notice " + kind }, text);
}

// ---------- torrents ----------

// Rows are kept and updated in place (keyed by torrent id), so that a
// click, a hover or a text selection survives the refresh.
const rows = new Map();

function renderRow(t) {
  let r = rows.get(t.id);
  if (!r) {
    const cells = {
      name: el("td", { class: "name" }), prov: el("td"), prog: el("td"),
      state: el("td", { class: "state" }), down: el("td", { class: "num" }),
      up: el("td", { class: "num" }), peers: el("td", { class: "num" }),
      actions: el("td", { class: "actions" }),
    };
    const tr = el("tr", { "data-id": t.id }, ...Object.values(cells));
    tr.addEventListener("click", (ev) => {
      if (ev.target.tagName === "BUTTON") return;
      select(t.id);
    });
    r = { tr, cells, paused: null };
    rows.set(t.id, r);
  }
  const c = r.cells;
  r.tr.dataset.state = t.state;
  r.tr.classList.toggle("selected", state.selected === t.id);
  c.name.title = t.error || t.name;
  c.name.replaceChildren(t.name, ...(t.error ? [el("div", { class: "error" }, t.error)] : []));
  c.prov.replaceChildren(badge(t.provenance));
  c.prog.replaceChildren(progressBar(t.progress));
  c.state.textContent = t.state.replace("_", " ");
  c.down.textContent = rate(t.download_rate);
  c.up.textContent = rate(t.upload_rate);
  c.peers.textContent = t.peers;
  const paused = t.state === "paused";
  if (r.paused !== paused) {
    r.paused = paused;
    c.actions.replaceChildren(
      paused
        ? el("button", { type: "button", onclick: () => act(t.id, "resume") }, "Resume")
        : el("button", { type: "button", onclick: () => act(t.id, "pause") }, "Pause"),
      el("button", { type: "button", class: "danger", onclick: () => removeTorrent(state.torrents.find((x) => x.id === t.id) || t) }, "Remove"));
  }
  return r.tr;
}

async function refreshList() {
  let list;
  try {
    list = await call("GET", "/torrents");
  } catch (e) {
    document.getElementById("session-stats").textContent = "⚠ " + e.message;
    return;
  }
  state.torrents = list;
  const tbody = document.querySelector("#torrents tbody");
  const seen = new Set();
  list.forEach((t, i) => {
    seen.add(t.id);
    const tr = renderRow(t);
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  for (const [id, r] of rows) {
    if (!seen.has(id)) {
      r.tr.remove();
      rows.delete(id);
    }
  }
  document.getElementById("empty").hidden = list.length > 0;
  const down = list.reduce((a, t) => a + t.download_rate, 0);
  const up = list.reduce((a, t) => a + t.upload_rate, 0);
  document.getElementById("session-stats").textContent =
    list.length + " torrent" + (list.length === 1 ? "" : "s") + " · ↓ " + rate(down) + " · ↑ " + rate(up);
  if (state.selected && !list.some((t) => t.id === state.selected)) select(null);
}

async function act(id, what) {
  try {
    await call("POST", "/torrents/" + id + "/" + what);
  } catch (e) {
    alert(e.message);
  }
  refreshList();
}

async function removeTorrent(t) {
  if (!confirm("Remove " + t.name + " from this node?")) return;
  const data = confirm("Also delete its downloaded files?\nOK: delete the files. Cancel: keep them.");
  try {
    await call("DELETE", "/torrents/" + t.id + (data ? "?delete_data=true" : ""));
  } catch (e) {
    alert(e.message);
  }
  refreshList();
}

function select(id) {
  state.selected = id;
  document.getElementById("details").hidden = !id;
  refreshDetails();
  for (const tr of document.querySelectorAll("#torrents tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.id === id);
  }
}

async function refreshDetails() {
  const id = state.selected;
  if (!id) return;
  const body = document.getElementById("details-body");
  const t = state.torrents.find((x) => x.id === id);
  document.getElementById("details-name").textContent = t ? t.name : id;
  try {
    let content;
    if (state.tab === "files") {
      const files = await call("GET", "/torrents/" + id + "/files");
      content = table(["File", "Size", "Done", "Priority"], files.map((f) => [
        f.path, bytes(f.length), pct(f.length ? f.bytes_completed / f.length : 1), prioritySelect(id, f)]));
    } else if (state.tab === "peers") {
      const peers = await call("GET", "/torrents/" + id + "/peers");
      content = peers.length
        ? table(["Address", "Client", "Has", "Down", "Up", "Flags"], peers.map((p) => [
          p.address, p.client || "–", pct(p.progress), rate(p.download_rate), rate(p.upload_rate),
          (p.outgoing ? "out" : "in") + (p.peer_choking ? "" : " unchoked") + (p.peer_interested ? " interested" : "")]))
        : notice("info", "No peers connected.");
    } else if (state.tab === "trackers") {
      const trackers = await call("GET", "/torrents/" + id + "/trackers");
      content = trackers.length
        ? table(["Tier", "URL", "Announces", "Last answer", "Peers", "Seeders", "Leechers", "Error"], trackers.map((x) => [
          x.tier, x.url, x.announces, when(x.last_success), x.last_peers,
          x.seeders ?? "–", x.leechers ?? "–", x.last_error || ""]))
        : notice("info", "No trackers: peers come from the magnet link, peer exchange and the peers you give.");
    } else {
      const d = await call("GET", "/torrents/" + id);
      content = table(["", ""], [
        ["Id", d.id], ["v1 infohash", d.info_hash_v1 || "–"], ["v2 infohash", d.info_hash_v2 || "–"],
        ["Size", bytes(d.total_bytes)], ["Pieces", d.piece_count + " × " + bytes(d.piece_length)],
        ["Saved in", d.save_dir], ["Added", when(d.added_at)], ["Completed", when(d.done_at)],
        ["Downloaded", bytes(d.downloaded)], ["Uploaded", bytes(d.uploaded)],
        ["Hash failures", d.hash_failures], ["Provenance", badge(d.provenance)],
        ["Magnet", el("code", { class: "wrap" }, d.magnet)]]);
    }
    body.replaceChildren(content);
  } catch (e) {
    body.replaceChildren(notice("warn", e.message));
  }
}

function prioritySelect(id, f) {
  const s = el("select", { "aria-label": "priority of " + f.path });
  for (const p of ["skip", "low", "normal", "high"]) {
    const o = el("option", { value: p }, p);
    if (p === f.priority) o.selected = true;
    s.append(o);
  }
  s.addEventListener("change", async () => {
    try {
      await call("PATCH", "/torrents/" + id + "/files", [{ indices: [f.index], priority: s.value }]);
    } catch (e) {
      alert(e.message);
    }
    refreshDetails();
  });
  return s;
}

for (const b of document.querySelectorAll("#details .tabs button")) {
  b.addEventListener("click", () => {
    state.tab = b.dataset.tab;
    for (const x of document.querySelectorAll("#details .tabs button")) x.classList.toggle("active", x === b);
    refreshDetails();
  });
}

document.getElementById("add-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = document.getElementById("add-status");
  const magnet = document.getElementById("add-magnet");
  const file = document.getElementById("add-file");
  status.className = "";
  try {
    let added;
    if (file.files.length) {
      const buf = await file.files[0].arrayBuffer();
      added = await call("POST", "/torrents", buf, "application/x-bittorrent");
      file.value = "";
    } else if (magnet.value.trim()) {
      added = await call("POST", "/torrents", { magnet: magnet.value.trim() });
      magnet.value = "";
    } else {
      throw new Error("paste a magnet link or choose a .torrent file");
    }
    status.textContent = (added.duplicate ? "Already here: " : "Added: ") + added.name;
    status.className = "ok";
  } catch (e) {
    status.textContent = e.message;
    status.className = "err";
  }
  refreshList();
});

// ---------- ledger and reputation ----------

function ledgerUnavailable(target, e) {
  if (e.code === "ledger_not_enabled") {
    target.replaceChildren(notice("info ledger-disabled",
      "Ledger not enabled: this node runs without the ledger, so there are no blocks, accounts, validators or reputation to show yet."));
  } else {
    target.replaceChildren(notice("warn", e.message));
  }
}

function kv(obj) {
  return table(["", ""], Object.entries(obj || {}).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]));
}

const short = (h) => (h && h.length > 16 ? h.slice(0, 8) + "…" + h.slice(-6) : String(h ?? "–"));

async function showLedger() {
  const body = document.getElementById("ledger-body");
  try {
    const status = await call("GET", "/ledger/status");
    const blocks = await call("GET", "/ledger/blocks?limit=20");
    const validators = await call("GET", "/ledger/validators");
    const head = el("p", { class: "ledger-status", "data-height": status.height },
      `Chain ${status.chain_id}, height ${status.height}` +
      (status.embedded ? " (kept by this node)" : ` (followed at ${status.url})`));
    const blockRows = (blocks.blocks || []).map((b) =>
      [String(b.height), short(b.hash), b.time_ms ? new Date(b.time_ms).toLocaleString() : "–",
       String(b.tx_count ?? 0), short(b.proposer)]);
    const blockTable = table(["Height", "Hash", "Time", "Txs", "Proposer"], blockRows);
    blockTable.id = "ledger-blocks";
    const valRows = (validators.validators || []).map((v) => [short(v.address), String(v.power)]);
    const result = el("div", { id: "ledger-lookup-result" });
    const input = el("input", { id: "ledger-lookup", type: "text",
      placeholder: "account (btl1…) or torrent infohash", "aria-label": "Account or torrent" });
    const form = el("form", { class: "bar", onsubmit: async (ev) => {
      ev.preventDefault();
      const id = input.value.trim();
      if (!id) return;
      const kind = id.startsWith("btl1") ? "accounts" : "torrents";
      try {
        result.replaceChildren(kv(await call("GET", `/ledger/${kind}/` + encodeURIComponent(id))));
      } catch (e) {
        result.replaceChildren(notice("warn", e.message));
      }
    } }, input, el("button", { type: "submit" }, "Look up"));
    body.replaceChildren(
      head,
      el("h3", {}, "Recent blocks"), blockTable,
      el("h3", {}, "Validators"), table(["Address", "Power"], valRows),
      el("h3", {}, "Accounts and torrents"), form, result);
  } catch (e) {
    ledgerUnavailable(body, e);
  }
}

document.getElementById("rep-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = document.getElementById("rep-body");
  const id = document.getElementById("rep-id").value.trim() || "_";
  try {
    body.replaceChildren(kv(await call("GET", "/reputation/" + encodeURIComponent(id))));
  } catch (e) {
    ledgerUnavailable(body, e);
  }
});

async function showReputation() {
  const body = document.getElementById("rep-body");
  try {
    await call("GET", "/ledger/status");
  } catch (e) {
    ledgerUnavailable(body, e);
  }
}

// ---------- pages ----------

function route() {
  const page = (location.hash.replace(/^#\//, "") || "torrents").split("/")[0];
  for (const p of document.querySelectorAll(".page")) p.hidden = p.id !== "page-" + page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (page === "ledger") showLedger();
  if (page === "reputation") showReputation();
}

window.addEventListener("hashchange", route);
route();
refreshList();
setInterval(refreshList, 1000);
setInterval(refreshDetails, 2000);
