"use strict";
// The share page: everything it shows comes from the data block above and the parts it
// fetches from its own origin. Keys are the sender's users' text: they only ever reach
// the page through textContent and href (never markup).
(() => {
  const share = JSON.parse(document.getElementById("fanout-share").textContent);
  const $ = (id) => document.getElementById(id);
  const PAGE_ROWS = 100;
  const LOAD_CONCURRENCY = 4;
  const started = performance.now();

  const parts = share.parts.map((p) => ({ url: p.url, count: p.count, rows: null, loading: null }));
  let offset = 0;
  for (const part of parts) { part.start = offset; offset += part.count; }
  const total = offset;
  const expiresAt = Date.parse(share.expires_at);
  const state = { view: "list", sort: "name", dir: 1, query: "", page: 0, folder: "" };
  let expired = false;
  let failure = "";
  let loadedParts = 0;
  let allRows = null; // every row in key order, once all parts are in
  let renderToken = 0;

  // -- text ------------------------------------------------------------------------------
  const number = new Intl.NumberFormat();
  function bytes(n) {
    const units = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let value = n; let unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? `${number.format(n)} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }
  // Bidi overrides and control characters would make a name read as something else
  // ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf"): show them as visible codes.
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
  function readable(text) {
    return text.replace(HIDDEN, (c) => `\u27e8U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}\u27e9`);
  }
  function relative(key) {
    return key.startsWith(share.prefix) ? key.slice(share.prefix.length) : key;
  }
  function span(text, cls) {
    const el = document.createElement("span");
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
  }
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400); const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60); const sec = s % 60;
    const clock = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
    return d ? `${d} day${d === 1 ? "" : "s"} ${clock}` : clock;
  }
  function isLink(url) { return typeof url === "string" && /^https?:\/\//i.test(url); }
  // A browser resolves "." and ".." path segments (even as %2E) before it sends a URL, so
  // such a key's link would ask S3 for another key: show the name, offer fetch and curl.
  function browserSafe(key) { return !key.split("/").some((s) => s === "." || s === ".."); }

  // -- what was shared, and until when -----------------------------------------------------
  function header() {
    // The sender's title, else where the files are as a person says it (not an s3:// URL).
    const place = `${share.bucket || ""} / ${share.prefix.replace(/\/$/, "")}`.replace(/ \/ $/, "");
    const headline = typeof share.title === "string" && share.title.trim() ? share.title.trim() : `Files from ${place}`;
    $("headline").textContent = readable(headline);
    document.title = readable(headline);
    if (typeof share.message === "string" && share.message.trim()) {
      $("message").textContent = share.message.trim(); $("message").hidden = false;
    }
    const where = `s3://${share.bucket}/${share.prefix}`;
    const skipped = Object.entries(share.skipped || {});
    let text = `${readable(where)}${share.suffix ? ` (names ending ${readable(share.suffix)})` : ""}: ` +
      `${number.format(share.count)} file${share.count === 1 ? "" : "s"}, ${bytes(share.object_bytes)}`;
    if (skipped.length) {
      const left = skipped.reduce((sum, [, n]) => sum + n, 0);
      text += `. ${number.format(left)} left out: ${skipped.map(([why, n]) => `${number.format(n)} ${why}`).join(", ")}`;
    }
    $("what").textContent = text;
    if (share.note) { $("note").textContent = share.note; $("note").hidden = false; }
    const quoted = `'${pageUrl().replace(/'/g, "'\\''")}'`;
    $("fetch-command").textContent = `fanout-fetch ${quoted} --to DIR`;
    // The tool as one file, published beside the share (fanout-fetch.pyz): nothing to install.
    if (isLink(share.fetch_tool_url)) {
      $("fetch-tool-link").href = share.fetch_tool_url;
      $("fetch-pyz-command").textContent = `python3 fanout-fetch.pyz ${quoted} --to DIR`;
      $("fetch-tool").hidden = false; $("fetch-source").hidden = true;
    }
  }
  function pageUrl() { return location.href.split("#")[0]; }
  function tick() {
    const left = expiresAt - Date.now();
    if (Number.isNaN(expiresAt)) { $("expiry").textContent = "Expiry unknown."; return; }
    const until = new Date(expiresAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    if (left <= 0) { showExpired(); return; }
    $("expiry").textContent = `Links work for ${duration(left)} more, until ${until}.`;
    $("expiry").classList.toggle("soon", left < 3600 * 1000);
  }
  function showExpired() {
    if (expired) return;
    expired = true;
    $("browse").hidden = true;
    $("get").hidden = true;
    $("expired").hidden = false;
    $("rows").replaceChildren();
    $("expiry").textContent = "";
    $("expired-when").textContent = Number.isNaN(expiresAt) ? "" :
      `They stopped working at ${new Date(expiresAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}.`;
    document.body.dataset.state = "expired";
  }

  // -- parts, fetched on demand from the same origin ----------------------------------------
  function parseLines(text) {
    const rows = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      let row;
      try { row = JSON.parse(line); } catch { continue; }
      if (row && typeof row.key === "string" && Number.isFinite(row.size) && isLink(row.url)) {
        rows.push({ key: row.key, size: row.size, url: row.url, lower: null });
      }
    }
    return rows;
  }
  function loadPart(index) {
    const part = parts[index];
    if (part.rows) return Promise.resolve(part.rows);
    if (!part.loading) {
      part.loading = fetch(part.url, { credentials: "omit", referrerPolicy: "no-referrer" })
        .then(async (response) => {
          const text = await response.text();
          if (!response.ok) {
            if (response.status === 403 && /expired/i.test(text)) showExpired();
            const code = (/<Code>([^<]*)<\/Code>/.exec(text) || [])[1] || "";
            throw new Error(`part ${index + 1} answered HTTP ${response.status}${code ? ` ${code}` : ""}`);
          }
          part.rows = parseLines(text);
          loadedParts += 1;
          return part.rows;
        })
        .catch((error) => {
          part.loading = null;
          failure = `Could not load the file list (${error.message}).`;
          throw error;
        });
    }
    return part.loading;
  }
  let loadingAll = null;
  function loadAll() {
    if (allRows) return Promise.resolve(allRows);
    // After a failure nothing loads again until the reader asks (Try again): no retry storm.
    if (failure) return Promise.reject(new Error(failure));
    if (!loadingAll) {
      let next = 0;
      const worker = async () => {
        while (next < parts.length) {
          const index = next; next += 1;
          await loadPart(index);
          scheduleRender();
        }
      };
      loadingAll = Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, parts.length) }, worker))
        .then(() => { allRows = parts.flatMap((p) => p.rows); return allRows; })
        .catch((error) => { loadingAll = null; scheduleRender(); throw error; });
    }
    return loadingAll;
  }
  function loadedRows() { return allRows || parts.filter((p) => p.rows).flatMap((p) => p.rows); }

  // -- what the table shows ----------------------------------------------------------------
  function matches(row, words) {
    if (!words.length) return true;
    if (row.lower === null) row.lower = row.key.toLowerCase();
    return words.every((w) => row.lower.includes(w));
  }
  function searchWords() { return state.query.toLowerCase().split(/\s+/).filter(Boolean); }
  // The plain first view (key order, no search) pages straight from the parts it needs.
  function lazyView() { return state.view === "list" && state.sort === "name" && state.dir === 1 && !state.query; }

  async function listRows() {
    if (lazyView()) {
      const first = state.page * PAGE_ROWS; const last = Math.min(first + PAGE_ROWS, total);
      const wanted = parts.map((p, i) => [p, i]).filter(([p]) => p.start < last && p.start + p.count > first);
      await Promise.all(wanted.map(([, i]) => loadPart(i)));
      const rows = [];
      for (const [p] of wanted) {
        for (let j = Math.max(0, first - p.start); j < p.rows.length && p.start + j < last; j += 1) rows.push(p.rows[j]);
      }
      return { rows, count: total, complete: true, kind: "files" };
    }
    loadAll().catch(() => {});
    const words = searchWords();
    let found = loadedRows().filter((row) => matches(row, words));
    if (state.sort === "size") found = found.slice().sort((a, b) => (a.size - b.size) * state.dir || (a.key < b.key ? -1 : 1));
    else if (state.dir === -1) found = found.slice().reverse();
    const first = state.page * PAGE_ROWS;
    return { rows: found.slice(first, first + PAGE_ROWS), count: found.length, complete: Boolean(allRows), kind: words.length ? "matches" : "files" };
  }
  function folderEntries() {
    loadAll().catch(() => {});
    const words = searchWords();
    const base = state.folder;
    const folders = new Map(); const files = [];
    for (const row of loadedRows()) {
      const rel = relative(row.key);
      if (!rel.startsWith(base)) continue;
      const rest = rel.slice(base.length);
      const cut = rest.indexOf("/");
      if (cut >= 0) {
        const name = rest.slice(0, cut + 1);
        const entry = folders.get(name) || { name, count: 0, size: 0, lower: name.toLowerCase() };
        entry.count += 1; entry.size += row.size;
        folders.set(name, entry);
      } else if (matches(row, words)) {
        files.push({ name: rest, row });
      }
    }
    const dirs = [...folders.values()].filter((f) => words.every((w) => f.lower.includes(w)));
    const bySize = (a, b) => (a.size - b.size) * state.dir;
    if (state.sort === "size") { dirs.sort(bySize); files.sort((a, b) => (a.row.size - b.row.size) * state.dir); }
    else if (state.dir === -1) { dirs.reverse(); files.reverse(); }
    const all = dirs.map((f) => ({ folder: f })).concat(files); // folders first, as file browsers do
    const first = state.page * PAGE_ROWS;
    return { entries: all.slice(first, first + PAGE_ROWS), count: all.length, complete: Boolean(allRows) };
  }

  function fileRow(row, name) {
    const tr = document.createElement("tr");
    const cell = document.createElement("td"); cell.className = "name";
    if (browserSafe(row.key)) {
      const link = document.createElement("a");
      link.href = row.url;
      link.rel = "noopener noreferrer";
      link.textContent = readable(name);
      link.title = row.key;
      cell.append(link);
    } else {
      cell.append(span(readable(name)), span(" (a browser cannot open a name with a '.' or '..' folder: use fanout fetch or the curl list)", "small"));
    }
    const size = document.createElement("td"); size.className = "num";
    size.textContent = bytes(row.size);
    size.title = `${number.format(row.size)} bytes`;
    tr.append(cell, size);
    return tr;
  }
  function folderRow(folder) {
    const tr = document.createElement("tr");
    const cell = document.createElement("td"); cell.className = "name";
    const open = document.createElement("button");
    open.type = "button";
    open.append(span(readable(folder.name), "folder"));
    open.setAttribute("aria-label", `Open folder ${readable(folder.name)} (${number.format(folder.count)} files)`);
    open.addEventListener("click", () => { state.folder += folder.name; state.page = 0; render(); });
    cell.append(open);
    const size = document.createElement("td"); size.className = "num";
    size.textContent = bytes(folder.size);
    tr.append(cell, size);
    return tr;
  }
  function crumbs() {
    const nav = $("crumbs");
    nav.hidden = state.view !== "folders";
    if (nav.hidden) return;
    const items = [];
    const top = document.createElement("button");
    top.type = "button"; top.textContent = readable(share.prefix || "/");
    top.addEventListener("click", () => { state.folder = ""; state.page = 0; render(); });
    items.push(top);
    let path = "";
    for (const segment of state.folder.split("/").filter((s, i, all) => i < all.length - 1)) {
      path += `${segment}/`;
      const target = path;
      const step = document.createElement("button");
      step.type = "button"; step.textContent = readable(`${segment}/`);
      step.addEventListener("click", () => { state.folder = target; state.page = 0; render(); });
      items.push(span("\u203a"), step);
    }
    if (items.length > 1) items[items.length - 1].setAttribute("aria-current", "location");
    nav.replaceChildren(...items);
  }

  let renderQueued = null;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = setTimeout(() => { renderQueued = null; render(); }, 150);
  }
  async function render() {
    if (expired) return;
    const token = ++renderToken;
    crumbs();
    $("th-name").setAttribute("aria-sort", state.sort === "name" ? (state.dir === 1 ? "ascending" : "descending") : "none");
    $("th-size").setAttribute("aria-sort", state.sort === "size" ? (state.dir === 1 ? "ascending" : "descending") : "none");
    $("view-list").setAttribute("aria-pressed", String(state.view === "list"));
    $("view-folders").setAttribute("aria-pressed", String(state.view === "folders"));
    let shown; let count; let complete; let noun;
    try {
      if (state.view === "folders") {
        const result = folderEntries();
        shown = result.entries.map((e) => (e.folder ? folderRow(e.folder) : fileRow(e.row, e.name)));
        ({ count, complete } = result); noun = "entries";
      } else {
        const result = await listRows();
        if (token !== renderToken || expired) return;
        shown = result.rows.map((row) => fileRow(row, relative(row.key)));
        ({ count, complete } = result); noun = result.kind;
      }
    } catch {
      if (token === renderToken) {
        $("status").textContent = failure; $("retry").hidden = !failure;
        document.body.dataset.state = "failed";
      }
      return;
    }
    $("rows").replaceChildren(...shown);
    const pages = Math.max(1, Math.ceil(count / PAGE_ROWS));
    if (state.page >= pages && complete) { state.page = pages - 1; scheduleRender(); }
    const first = count ? state.page * PAGE_ROWS + 1 : 0;
    const last = Math.min((state.page + 1) * PAGE_ROWS, count);
    $("range").textContent = `${number.format(first)}\u2013${number.format(last)} of ${number.format(count)}${complete ? "" : "+"} ${noun}`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = last >= count && complete;
    const loading = complete ? "" : `Loading the list: ${loadedParts} of ${parts.length} parts\u2026 `;
    const none = total === 0 ? "Nothing was shared: the list is empty." : "Nothing matches.";
    $("status").textContent = failure || (loading + (count === 0 && complete ? none : ""));
    $("retry").hidden = !failure;
    $("list-scope").textContent = state.query ? `the files matching \u201c${readable(state.query)}\u201d` : "all files";
    if (!document.body.dataset.firstRowsMs && shown.length) {
      document.body.dataset.firstRowsMs = String(Math.round(performance.now() - started));
    }
    document.body.dataset.state = failure ? "failed" : complete ? "ready" : "loading";
  }

  // -- search in the fragment (#q=...): a filtered view can be shared; it never touches the signature
  function queryFromFragment() {
    const match = /(?:^#|&)q=([^&]*)/.exec(location.hash);
    if (!match) return "";
    try { return decodeURIComponent(match[1].replace(/\+/g, " ")); } catch { return ""; }
  }
  function setQuery(query, fromFragment) {
    state.query = query; state.page = 0;
    if (!fromFragment) {
      const fragment = query ? `#q=${encodeURIComponent(query)}` : "";
      history.replaceState(null, "", pageUrl() + fragment);
    }
    render();
  }

  // -- link lists made in the browser ------------------------------------------------------
  // Where a key goes under DIR, as fanout fetch maps it: empty and "." segments dropped,
  // ".." resolved inside the key; null if it would leave DIR or holds a control character.
  function localPath(key) {
    if (/[\u0000-\u001f\u007f]/.test(key)) return null;
    const out = [];
    for (const segment of key.split("/")) {
      if (segment === "" || segment === ".") continue;
      if (segment === "..") { if (!out.length) return null; out.pop(); continue; }
      out.push(segment);
    }
    return out.length ? out.join("/") : null;
  }
  function curlQuote(text) { return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`; }
  async function saveList(kind) {
    const status = $("save-status");
    status.textContent = "Preparing the list\u2026";
    let rows;
    try { rows = await loadAll(); } catch { status.textContent = failure; return; }
    const words = searchWords();
    const chosen = rows.filter((row) => matches(row, words));
    const seen = new Set(); const lines = []; let left = 0;
    for (const row of chosen) {
      const path = localPath(row.key);
      // curl sends such a key's path as it is (path-as-is); aria2c and wget would rewrite it.
      if (path === null || seen.has(path) || (kind !== "curl" && !browserSafe(row.key))) { left += 1; continue; }
      seen.add(path);
      if (kind === "aria2") lines.push(`${row.url}\n  out=${path}\n`);
      else if (kind === "curl") lines.push(`url = ${curlQuote(row.url)}\noutput = ${curlQuote(path)}\n`);
      else lines.push(`${row.url}\n`);
    }
    const names = { aria2: "fanout-links.aria2", curl: "fanout-links.curl", urls: "fanout-urls.txt" };
    const head = kind === "curl" ? `# curl --parallel --create-dirs --fail -K ${names.curl}\npath-as-is\n` : "";
    const blob = new Blob([head, ...lines], { type: "text/plain" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = names[kind];
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status.textContent = `Saved ${names[kind]}: ${number.format(lines.length)} link${lines.length === 1 ? "" : "s"}` +
      (left ? ` (${number.format(left)} left out: a name that leaves the folder, repeats another, holds a control character${kind === "curl" ? "" : " or a '.'/'..' folder - the curl list has those"})` : "") + ".";
  }

  // -- wiring --------------------------------------------------------------------------------
  let searchTimer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => setQuery(event.target.value.trim(), false), 150);
  });
  window.addEventListener("hashchange", () => {
    const query = queryFromFragment();
    if (query !== state.query) { $("search").value = query; setQuery(query, true); }
  });
  const sortBy = (key) => () => {
    state.dir = state.sort === key ? -state.dir : 1;
    state.sort = key; state.page = 0; render();
  };
  $("sort-name").addEventListener("click", sortBy("name"));
  $("sort-size").addEventListener("click", sortBy("size"));
  $("view-list").addEventListener("click", () => { state.view = "list"; state.page = 0; render(); });
  $("view-folders").addEventListener("click", () => { state.view = "folders"; state.page = 0; render(); });
  $("prev").addEventListener("click", () => { if (state.page > 0) { state.page -= 1; render(); } });
  $("next").addEventListener("click", () => { state.page += 1; render(); });
  $("retry").addEventListener("click", () => { failure = ""; render(); });
  $("save-aria2").addEventListener("click", () => saveList("aria2"));
  $("save-curl").addEventListener("click", () => saveList("curl"));
  $("save-urls").addEventListener("click", () => saveList("urls"));
  $("copy-fetch").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("fetch-command").textContent); $("copy-fetch").textContent = "Copied"; }
    catch { getSelection().selectAllChildren($("fetch-command")); }
  });

  header();
  tick();
  setInterval(tick, 1000);
  state.query = queryFromFragment();
  $("search").value = state.query;
  render();
})();
