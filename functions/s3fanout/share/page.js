"use strict";
// The share page: everything it shows comes from the data block above and the parts it
// fetches from its own origin. Keys are the sender's users' text: they only ever reach
// the page through textContent and href (never markup).
//
// Scale: parts are key ranges in key order and a folder is a key range, so the page never
// needs every name. A view loads only the parts that hold what is on screen (the folder
// summary gives each folder's counts and parts); a search, or a sort by size or date over
// more than SORT_LIMIT files, streams the parts through, keeping only what it shows.
(() => {
  const share = JSON.parse(document.getElementById("fanout-share").textContent);
  const $ = (id) => document.getElementById(id);
  const PAGE_ROWS = 100;
  const LOAD_CONCURRENCY = 4;
  const CACHED_PARTS = 8; // parsed parts kept (≈ 5 MB each at 5,000 lines)
  const SORT_LIMIT = 20000; // up to this many files a view is loaded whole and sorted here
  const MATCH_CAP = 10000; // a search keeps at most this many matches
  const TOP_CAP = 10000; // a size or date sort of a bigger view shows its first TOP_CAP
  const SAVE_CAP = 200000; // links a list saved in the browser may hold
  const DOWNLOAD_CAP = 200; // files "Download these files" saves one after another
  const started = performance.now();

  // -- one locale for every number, size, date and name comparison --------------------------
  const LOCALE = new Intl.NumberFormat().resolvedOptions().locale; // the browser's own
  const number = new Intl.NumberFormat(LOCALE);
  const decimal = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
  const collator = new Intl.Collator(LOCALE, { numeric: true, sensitivity: "base" });
  const dateFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
  function bytes(n) {
    const units = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let value = n; let unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? `${number.format(n)} byte${n === 1 ? "" : "s"}` : `${decimal.format(value)} ${units[unit]}`;
  }
  function count(n, noun) { return `${number.format(n)} ${noun}${n === 1 ? "" : "s"}`; }
  function when(text) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? "" : dateFormat.format(new Date(t));
  }
  // Search ignores case and accents: "resume" finds "Résumé".
  function fold(text) { return text.normalize("NFD").replace(/\p{M}+/gu, "").toLowerCase(); }

  // Bidi overrides and control characters would make a name read as something else
  // ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf"): show them as visible codes.
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
  function readable(text) {
    return text.replace(HIDDEN, (c) => `\u27e8U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}\u27e9`);
  }
  const prefix = typeof share.prefix === "string" ? share.prefix : "";
  function relative(key) { return key.startsWith(prefix) ? key.slice(prefix.length) : key; }
  function span(text, cls) {
    const el = document.createElement("span");
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
  }
  function button(text, label) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    return b;
  }
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400); const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60); const sec = s % 60;
    const clock = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
    return d ? `${count(d, "day")} ${clock}` : clock;
  }
  function isLink(url) { return typeof url === "string" && /^https?:\/\//i.test(url); }
  // A browser resolves "." and ".." path segments (even as %2E) before it sends a URL, so
  // such a key's link would ask S3 for another key: show the name, offer fetch and curl.
  function browserSafe(key) { return !key.split("/").some((s) => s === "." || s === ".."); }
  // S3 orders keys by UTF-8 bytes, which is code point order; JavaScript compares UTF-16
  // units, which differs above U+FFFF. Compare as S3 does.
  function keyCompare(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i += 1) {
      let x = a.charCodeAt(i); let y = b.charCodeAt(i);
      if (x !== y) {
        x = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
        y = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
        return x < y ? -1 : 1;
      }
    }
    return a.length - b.length;
  }

  // -- icons, drawn here (no font, no request) -------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  function svg(children, cls) {
    const el = document.createElementNS(SVG, "svg");
    el.setAttribute("viewBox", "0 0 24 24"); el.setAttribute("width", "20"); el.setAttribute("height", "20");
    el.setAttribute("aria-hidden", "true"); el.setAttribute("focusable", "false");
    el.setAttribute("class", `icon ${cls}`);
    for (const [tag, attrs, text] of children) {
      const child = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) child.setAttribute(k, v);
      if (text) child.textContent = text;
      el.append(child);
    }
    return el;
  }
  function folderIcon() {
    return svg([["path", { d: "M2 5.5A1.5 1.5 0 0 1 3.5 4h5l2 2.5h10A1.5 1.5 0 0 1 22 8v10.5a1.5 1.5 0 0 1-1.5 1.5h-17A1.5 1.5 0 0 1 2 18.5z" }]], "folder-icon");
  }
  const KINDS = [
    ["pdf", /^pdf$/],
    ["image", /^(png|jpe?g|gif|webp|svg|tiff?|bmp|heic|avif)$/],
    ["video", /^(mp4|mov|mkv|webm|avi|m4v)$/],
    ["audio", /^(mp3|wav|flac|ogg|m4a|aac)$/],
    ["archive", /^(zip|gz|tgz|bz2|xz|7z|rar|tar|zst)$/],
    ["sheet", /^(csv|tsv|xlsx?|ods|parquet)$/],
    ["doc", /^(docx?|odt|rtf|txt|md|pptx?|odp)$/],
    ["code", /^(json|jsonl|xml|html?|js|py|sh|ya?ml|sql|log)$/],
  ];
  function fileIcon(name) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
    const kind = (KINDS.find(([, re]) => re.test(ext)) || ["file"])[0];
    const label = ext.length && ext.length <= 4 ? ext.toUpperCase() : "";
    const parts = [
      ["path", { d: "M5 2h9l5 5v15H5z", class: "sheet" }],
      ["path", { d: "M14 2v5h5", class: "fold" }],
    ];
    if (label) parts.push(["rect", { x: "2", y: "12", width: "17", height: "7", rx: "1", class: "band" }],
      ["text", { x: "10.5", y: "17.6", "text-anchor": "middle", class: "label" }, label]);
    return svg(parts, `file-icon kind-${kind}`);
  }

  // -- the parts: key ranges in key order ---------------------------------------------------
  const parts = (share.parts || []).map((p, i) => ({
    index: i, url: p.url, count: Number(p.count) || 0,
    first: typeof p.first_key === "string" ? p.first_key : null,
    last: typeof p.last_key === "string" ? p.last_key : null,
  }));
  let offset = 0;
  for (const part of parts) { part.start = offset; offset += part.count; }
  const total = offset;
  // Older indexes do not say which keys a part holds: then a folder is every part.
  const ranged = parts.every((p) => p.count === 0 || (p.first !== null && p.last !== null));
  const filled = parts.filter((p) => p.count > 0);
  const expiresAt = Date.parse(share.expires_at);
  let expired = false;
  let failure = "";
  let filesShareOrigin = false;
  const cache = new Map(); // part index -> rows, least recently used first
  const loading = new Map();

  // Parsed a slice at a time, giving the page back in between: a 5,000-line part never holds
  // the main thread (clicks, the countdown) for long.
  const yieldToPage = () => (globalThis.scheduler && scheduler.yield ? scheduler.yield() : new Promise((resolve) => { setTimeout(resolve, 0); }));
  async function parseLines(text) {
    const rows = [];
    const lines = text.split("\n");
    for (let n = 0; n < lines.length; n += 1) {
      if (n && n % 1000 === 0) await yieldToPage();
      const line = lines[n];
      if (!line) continue;
      let row;
      try { row = JSON.parse(line); } catch { continue; }
      if (row && typeof row.key === "string" && Number.isFinite(row.size) && isLink(row.url)) {
        rows.push({ key: row.key, size: row.size, url: row.url, modified: typeof row.last_modified === "string" ? row.last_modified : "" });
      }
    }
    return rows;
  }
  function loadPart(index) {
    const part = parts[index];
    const kept = cache.get(index);
    if (kept) { cache.delete(index); cache.set(index, kept); return Promise.resolve(kept); }
    if (failure) return Promise.reject(new Error(failure)); // no retry storm: only "Try again"
    if (!loading.has(index)) {
      loading.set(index, fetch(part.url, { credentials: "omit", referrerPolicy: "no-referrer" })
        .then(async (response) => {
          const text = await response.text();
          if (!response.ok) {
            if (response.status === 403 && /expired/i.test(text)) showExpired();
            const code = (/<Code>([^<]*)<\/Code>/.exec(text) || [])[1] || "";
            throw new Error(`part ${index + 1} answered HTTP ${response.status}${code ? ` ${code}` : ""}`);
          }
          const rows = await parseLines(text);
          if (rows.length && sameOrigin(rows[0].url) !== filesShareOrigin) {
            filesShareOrigin = !filesShareOrigin;
            $("download-many").hidden = !filesShareOrigin;
          }
          cache.set(index, rows);
          while (cache.size > CACHED_PARTS) cache.delete(cache.keys().next().value);
          return rows;
        })
        .catch((error) => {
          if (!failure) failure = `Could not load the file list (${error.message}).`;
          throw error;
        })
        .finally(() => loading.delete(index)));
    }
    return loading.get(index);
  }
  // The index (in `parts`) of the first part holding a key >= `key`, parts.length if none.
  // Searched over the non-empty parts only: an empty one (a unit with nothing to share) has
  // no keys to compare, and landing on it sent the search past every part before it.
  function firstPartReaching(key) {
    let lo = 0; let hi = filled.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (filled[mid].last === null || keyCompare(filled[mid].last, key) < 0) lo = mid + 1; else hi = mid;
    }
    return lo < filled.length ? filled[lo].index : parts.length;
  }
  // The parts that can hold keys starting with `start` (a folder's key range), in order.
  function partsUnder(start) {
    if (!ranged) return filled.slice();
    const out = [];
    for (let i = firstPartReaching(start); i < parts.length; i += 1) {
      const p = parts[i];
      if (p.count === 0) continue;
      if (keyCompare(p.first, start) > 0 && !p.first.startsWith(start)) break;
      out.push(p);
    }
    return out;
  }
  // Streams the parts through `each(rows, part)` four at a time, in any order; resolves when
  // all are done. `job.cancelled` stops it between parts.
  async function stream(list, job, each) {
    let next = 0;
    const worker = async () => {
      while (next < list.length && !job.cancelled) {
        const part = list[next]; next += 1;
        const rows = await loadPart(part.index);
        if (job.cancelled) return;
        each(rows, part);
        job.done += 1;
        job.progress();
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, list.length) }, worker));
  }

  // -- the folder summary (MergeIndex): per folder, its counts and the parts it spans ---------
  const folders = new Map(); // path -> entry
  const kids = new Map(); // path -> child entries
  const summary = share.folders && Array.isArray(share.folders.entries) && Array.isArray(share.folders.fields) ? share.folders : null;
  if (summary) {
    const at = Object.fromEntries(summary.fields.map((f, i) => [f, i]));
    for (const row of summary.entries) {
      const entry = {
        path: row[at.path], files: row[at.files], bytes: row[at.bytes], modified: row[at.modified] || "",
        subfolders: row[at.subfolders], direct: row[at.direct_files], directParts: row[at.direct_parts] || [],
      };
      folders.set(entry.path, entry);
      if (entry.path) {
        const parent = entry.path.slice(0, entry.path.slice(0, -1).lastIndexOf("/") + 1);
        if (!kids.has(parent)) kids.set(parent, []);
        kids.get(parent).push(entry);
      }
    }
  }
  function nameOf(path) { return path.slice(path.slice(0, -1).lastIndexOf("/") + 1); }
  function folderOf(rel) { return rel.slice(0, rel.lastIndexOf("/") + 1); }
  const hasFolders = summary ? (kids.get("") || []).length > 0 :
    parts.some((p) => (p.first && relative(p.first).includes("/")) || (p.last && relative(p.last).includes("/")));

  // -- what was shared, and until when -----------------------------------------------------
  function header() {
    const where = `${share.bucket || ""} / ${prefix.replace(/\/$/, "")}`.replace(/ \/ $/, "");
    const headline = typeof share.title === "string" && share.title.trim() ? share.title.trim() : `Files from ${where}`;
    $("headline").textContent = readable(headline);
    document.title = readable(headline);
    if (typeof share.message === "string" && share.message.trim()) {
      $("message").textContent = share.message.trim(); $("message").hidden = false;
    }
    const skipped = Object.entries(share.skipped || {});
    let text = `${count(share.count, "file")}, ${bytes(share.object_bytes)} from ` +
      `s3://${readable(share.bucket || "")}/${readable(prefix)}${share.suffix ? ` (names ending ${readable(share.suffix)})` : ""}`;
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
    if (left <= 0) { showExpired(); return; }
    $("expiry").textContent = `Links work for ${duration(left)} more, until ${dateFormat.format(new Date(expiresAt))}.`;
    $("expiry").classList.toggle("soon", left < 3600 * 1000);
  }
  function showExpired() {
    if (expired) return;
    expired = true;
    if (job) job.cancelled = true;
    $("browse").hidden = true;
    $("get").hidden = true;
    $("expired").hidden = false;
    $("rows").replaceChildren();
    // The tool's link is signed like the files: it expired with them.
    $("fetch-tool-link").removeAttribute("href"); $("fetch-tool").hidden = true; $("fetch-source").hidden = false;
    $("expiry").textContent = "";
    $("expired-when").textContent = Number.isNaN(expiresAt) ? "" :
      `They stopped working at ${dateFormat.format(new Date(expiresAt))}.`;
    document.body.dataset.state = "expired";
  }

  // -- the view: folder, search, sort and page, all in the URL fragment ------------------------
  const DEFAULT_VIEW = hasFolders ? "folders" : "list";
  const state = { view: DEFAULT_VIEW, folder: "", query: "", sort: "name", dir: 1, page: 0 };
  function readFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const sort = params.get("sort") || "name";
    const page = Number.parseInt(params.get("page") || "1", 10);
    let folder = params.get("folder") || "";
    if (folder && !folder.endsWith("/")) folder += "/";
    return {
      view: ["list", "folders"].includes(params.get("view")) ? params.get("view") : DEFAULT_VIEW,
      folder,
      query: (params.get("q") || "").trim(),
      sort: ["name", "size", "modified"].includes(sort.replace(/^-/, "")) ? sort.replace(/^-/, "") : "name",
      dir: sort.startsWith("-") ? -1 : 1,
      page: Number.isFinite(page) && page > 1 ? page - 1 : 0,
    };
  }
  function fragment(s) {
    const params = new URLSearchParams();
    if (s.view !== DEFAULT_VIEW) params.set("view", s.view);
    if (s.folder) params.set("folder", s.folder);
    if (s.query) params.set("q", s.query);
    if (s.sort !== "name" || s.dir !== 1) params.set("sort", `${s.dir === -1 ? "-" : ""}${s.sort}`);
    if (s.page) params.set("page", String(s.page + 1));
    const text = params.toString().replace(/\+/g, "%20");
    return text ? `#${text}` : "";
  }
  // Every change of view is a history entry (Back returns to it), except typing in the search
  // box, which replaces the entry it started.
  let typing = false;
  function go(change, { push = true, search = false, focus = null } = {}) {
    Object.assign(state, change);
    const target = pageUrl() + fragment(state);
    if (target !== location.href) {
      if (push && !(search && typing)) history.pushState(null, "", target); else history.replaceState(null, "", target);
    }
    typing = search;
    if ($("search").value.trim() !== state.query) $("search").value = state.query;
    pendingFocus = focus;
    render();
  }
  function fromLocation() {
    Object.assign(state, readFragment());
    if ($("search").value.trim() !== state.query) $("search").value = state.query;
    typing = false;
    render();
  }

  // -- computing what the table shows ------------------------------------------------------
  let job = null; // the running stream (search, sort, save), cancelled by a new view
  const listings = new Map(); // view key -> computed result, a few kept
  function remember(key, value) {
    listings.set(key, value);
    while (listings.size > 6) listings.delete(listings.keys().next().value);
    return value;
  }
  function newJob(key, onProgress) {
    if (job && job.key !== key) job.cancelled = true;
    job = { key, cancelled: false, done: 0, progress: onProgress };
    return job;
  }
  function words() { return fold(state.query).split(/\s+/).filter(Boolean); }
  function compareBy(sort, dir, name) {
    if (sort === "size") return (a, b) => (a.size - b.size) * dir || collator.compare(name(a), name(b));
    if (sort === "modified") return (a, b) => (a.modified < b.modified ? -1 : a.modified > b.modified ? 1 : 0) * dir || collator.compare(name(a), name(b));
    return (a, b) => collator.compare(name(a), name(b)) * dir || keyCompare(a.key || a.path, b.key || b.path) * dir;
  }
  const fileName = (row) => { const rel = relative(row.key); return rel.slice(rel.lastIndexOf("/") + 1); };
  const pathName = (row) => relative(row.key);

  // A folder's own entries (subfolders, then files directly in it), from the summary when it
  // knows the folder, else from the parts of the folder's key range.
  async function folderListing(folder, redraw) {
    const key = `F:${folder}`;
    if (listings.has(key)) return listings.get(key);
    const entry = folders.get(folder);
    const known = entry && (kids.get(folder) || []).length === entry.subfolders;
    const start = prefix + folder;
    const result = { folders: [], files: [], complete: false, lazy: null, done: 0, of: 0, capped: false };
    remember(key, result);
    if (known) {
      result.folders = (kids.get(folder) || []).map((e) => ({ path: e.path, name: nameOf(e.path), files: e.files, size: e.bytes, modified: e.modified }));
      const dp = entry.directParts;
      const list = [];
      for (let i = 0; i < dp.length; i += 2) if (parts[dp[i]]) list.push({ part: parts[dp[i]], n: dp[i + 1] });
      if (entry.direct > SORT_LIMIT) {
        result.lazy = { runs: list, count: entry.direct }; // key order, a page at a time
        result.complete = true;
        return result;
      }
      result.of = list.length;
      const j = newJob(key, () => { result.done = j.done; redraw(); });
      await stream(list.map((r) => r.part), j, (rows) => {
        for (const row of rows) if (row.key.startsWith(start) && !row.key.slice(start.length).includes("/")) result.files.push(row);
      });
      if (j.cancelled) return cancelled(key, result, j);
    } else {
      const list = partsUnder(start);
      result.of = list.length;
      const found = new Map();
      const j = newJob(key, () => { result.done = j.done; redraw(); });
      await stream(list, j, (rows) => {
        for (const row of rows) {
          if (!row.key.startsWith(start)) continue;
          const rest = row.key.slice(start.length);
          const cut = rest.indexOf("/");
          if (cut < 0) {
            if (result.files.length < SORT_LIMIT) result.files.push(row); else result.capped = true;
            continue;
          }
          const path = folder + rest.slice(0, cut + 1);
          const f = found.get(path) || { path, name: rest.slice(0, cut + 1), files: 0, size: 0, modified: "" };
          f.files += 1; f.size += row.size; if (row.modified > f.modified) f.modified = row.modified;
          found.set(path, f);
        }
      });
      result.folders = [...found.values()];
      if (j.cancelled) return cancelled(key, result, j);
    }
    result.complete = true;
    redraw();
    return result;
  }
  // Stopped by the reader: the view says so (and keeps what it found). Stopped because the
  // reader went elsewhere: forgotten, so coming back starts it again.
  function cancelled(key, result, j) {
    result.cancelled = true;
    if (!j.byUser) listings.delete(key);
    redraw();
    return result;
  }

  // Every file below `folder` in key order, as positions: [first, end) over all parts.
  async function keyOrderBounds(folder) {
    if (!folder) return { first: 0, end: total };
    const key = `B:${folder}`;
    if (listings.has(key)) return listings.get(key);
    const start = prefix + folder;
    const list = partsUnder(start);
    if (!list.length) return remember(key, { first: 0, end: 0 });
    const head = list[0]; const tail = list[list.length - 1];
    const [headRows, tailRows] = await Promise.all([loadPart(head.index), loadPart(tail.index)]);
    let i = headRows.findIndex((r) => keyCompare(r.key, start) >= 0);
    if (i < 0) i = headRows.length;
    let k = tailRows.length;
    while (k > 0 && !tailRows[k - 1].key.startsWith(start)) k -= 1;
    return remember(key, { first: head.start + i, end: tail.start + k });
  }
  async function rowsAt(first, last) { // rows at positions [first, last) in key order
    const out = [];
    const wanted = parts.filter((p) => p.count && p.start < last && p.start + p.count > first);
    const loaded = await Promise.all(wanted.map((p) => loadPart(p.index)));
    wanted.forEach((p, n) => {
      for (let j = Math.max(0, first - p.start); j < loaded[n].length && p.start + j < last; j += 1) out.push(loaded[n][j]);
    });
    return out;
  }

  // Files below the folder that the search, or a sort of a big view, keeps: streamed.
  async function scan(folder, mode, redraw) {
    const key = `S:${folder}:${mode}:${state.query}:${mode === "top" ? `${state.sort}${state.dir}` : ""}`;
    if (listings.has(key)) return listings.get(key);
    const start = prefix + folder;
    const list = partsUnder(start);
    const result = { rows: [], complete: false, capped: false, done: 0, of: list.length, cancelled: false, mode };
    remember(key, result);
    const w = words();
    const order = compareBy(state.sort, state.dir, pathName);
    const j = newJob(key, () => { result.done = j.done; redraw(); });
    result.job = j;
    await stream(list, j, (rows) => {
      for (const row of rows) {
        if (!row.key.startsWith(start)) continue;
        if (mode === "search") {
          const name = fold(relative(row.key).slice(folder.length));
          if (!w.every((x) => name.includes(x))) continue;
          if (result.rows.length >= MATCH_CAP) { result.capped = true; j.cancelled = true; break; }
          result.rows.push(row);
        } else if (mode === "all") {
          result.rows.push(row);
        } else { // the first TOP_CAP in the chosen order, kept sorted
          const top = result.rows;
          if (top.length >= TOP_CAP && order(row, top[top.length - 1]) >= 0) { result.capped = true; continue; }
          let lo = 0; let hi = top.length;
          while (lo < hi) { const mid = (lo + hi) >> 1; if (order(top[mid], row) <= 0) lo = mid + 1; else hi = mid; }
          top.splice(lo, 0, row);
          if (top.length > TOP_CAP) { top.pop(); result.capped = true; }
        }
      }
    });
    if (j.cancelled && !result.capped) return cancelled(key, result, j);
    result.complete = true;
    redraw();
    return result;
  }

  // The view as rows: { rows: [{folder}|{file, showFolder}], count, complete, note }
  async function compute(redraw) {
    const folder = state.folder;
    const first = state.page * PAGE_ROWS;
    if (state.query) {
      const result = await scan(folder, "search", redraw);
      const sorted = result.rows.slice().sort(compareBy(state.sort, state.dir, state.view === "folders" ? fileName : pathName));
      return {
        all: sorted, rows: sorted.slice(first, first + PAGE_ROWS).map((row) => ({ file: row, withFolder: true })),
        count: sorted.length, complete: result.complete, capped: result.capped, cancelled: result.cancelled,
        progress: [result.done, result.of], noun: "match",
      };
    }
    if (state.view === "folders") {
      const listing = await folderListing(folder, redraw);
      const dirs = listing.folders.slice().sort(compareBy(state.sort, state.dir, (f) => f.name || fileName(f)));
      let files; let fileCount;
      if (listing.lazy) { // too many files directly here to sort: key order, a page at a time
        fileCount = listing.lazy.count;
        const a = Math.max(0, first - dirs.length); const b = Math.max(0, first + PAGE_ROWS - dirs.length);
        files = (await lazyDirect(listing.lazy, a, b, folder)).map((row) => ({ file: row }));
      } else {
        const sorted = listing.files.slice().sort(compareBy(state.sort, state.dir, fileName));
        fileCount = sorted.length;
        const a = Math.max(0, first - dirs.length);
        files = sorted.slice(a, a + PAGE_ROWS - Math.max(0, Math.min(PAGE_ROWS, dirs.length - first))).map((row) => ({ file: row }));
      }
      const shownDirs = dirs.slice(first, first + PAGE_ROWS).map((f) => ({ folder: f }));
      return {
        rows: shownDirs.concat(files).slice(0, PAGE_ROWS), count: dirs.length + fileCount, complete: listing.complete,
        capped: listing.capped, cancelled: listing.cancelled, progress: [listing.done, listing.of], noun: "item", keyOrder: Boolean(listing.lazy),
      };
    }
    // The flat list of every file below the folder.
    const entry = folders.get(folder);
    const size = folder ? (entry ? entry.files : null) : total;
    if (size !== null && size > SORT_LIMIT) {
      if (state.sort === "name") { // key order: only the parts holding this page
        const { first: from, end } = await keyOrderBounds(folder);
        const n = end - from;
        const a = state.dir === 1 ? from + first : end - Math.min(n, first + PAGE_ROWS);
        const b = state.dir === 1 ? Math.min(end, from + first + PAGE_ROWS) : end - first;
        let rows = a < b ? await rowsAt(a, b) : [];
        if (state.dir === -1) rows = rows.reverse();
        return { rows: rows.map((row) => ({ file: row, withFolder: true })), count: n, complete: true, noun: "file", keyOrder: true, progress: [0, 0] };
      }
      const result = await scan(folder, "top", redraw);
      const rows = result.rows.slice(first, first + PAGE_ROWS).map((row) => ({ file: row, withFolder: true }));
      return {
        rows, count: result.complete ? Math.min(size, TOP_CAP) : result.rows.length, complete: result.complete,
        cancelled: result.cancelled, progress: [result.done, result.of], noun: "file", top: size > TOP_CAP,
      };
    }
    const result = await scan(folder, "all", redraw);
    const sorted = result.rows.slice().sort(compareBy(state.sort, state.dir, pathName));
    return {
      all: sorted, rows: sorted.slice(first, first + PAGE_ROWS).map((row) => ({ file: row, withFolder: true })),
      count: sorted.length, complete: result.complete, cancelled: result.cancelled, progress: [result.done, result.of], noun: "file",
    };
  }
  async function lazyDirect(lazy, a, b, folder) { // files directly in a folder at [a, b) in key order
    const start = prefix + folder;
    const out = [];
    let seen = 0;
    for (const run of lazy.runs) {
      if (seen + run.n <= a) { seen += run.n; continue; }
      if (seen >= b) break;
      const rows = await loadPart(run.part.index);
      for (const row of rows) {
        if (!row.key.startsWith(start) || row.key.slice(start.length).includes("/")) continue;
        if (seen >= a && seen < b) out.push(row);
        seen += 1;
      }
    }
    return out;
  }

  // -- drawing -------------------------------------------------------------------------------
  let renderToken = 0;
  let pendingFocus = null;
  let lastView = null; // what the table shows now: Save saves exactly this
  let drawn = null;
  const sameOrigin = (url) => { try { return new URL(url).origin === location.origin; } catch { return false; } };

  // Without the clipboard API's permission (an embedded or older browser): the selection.
  function copyByHand(value) {
    const had = document.activeElement;
    const area = document.createElement("textarea");
    area.value = value; area.setAttribute("readonly", ""); area.className = "visually-hidden";
    document.body.append(area); area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch { done = false; }
    area.remove();
    if (had && had.focus) had.focus();
    return done;
  }
  function copyButton(text, label, getText) {
    const b = button(text, label);
    b.addEventListener("click", async () => {
      let copied = true;
      try { await navigator.clipboard.writeText(getText()); } catch { copied = copyByHand(getText()); }
      b.textContent = copied ? "Copied" : "Could not copy";
      clearTimeout(b.resetTimer);
      b.resetTimer = setTimeout(() => { b.textContent = text; }, 2000);
    });
    return b;
  }
  function openFolderButton(path, text, label) {
    const open = document.createElement("button");
    open.type = "button"; open.className = "linkish";
    open.append(folderIcon(), span(readable(text)));
    open.setAttribute("aria-label", label);
    open.addEventListener("click", () => go({ folder: path, query: "", page: 0 }, { focus: "crumb" }));
    return open;
  }
  function fileRow(row, withFolder) {
    const rel = relative(row.key);
    const name = withFolder ? rel.slice(rel.lastIndexOf("/") + 1) : rel.slice(state.folder.length);
    const tr = document.createElement("tr");
    const cell = document.createElement("td"); cell.className = "name";
    const line = document.createElement("div"); line.className = "line";
    line.append(fileIcon(name));
    if (browserSafe(row.key)) {
      const link = document.createElement("a");
      link.href = row.url;
      link.rel = "noopener noreferrer";
      link.textContent = readable(name);
      link.title = readable(row.key);
      link.className = "file";
      line.append(link);
    } else {
      line.append(span(readable(name), "file"));
    }
    cell.append(line);
    if (!browserSafe(row.key)) cell.append(span("A browser cannot open a name with a '.' or '..' folder: use fanout-fetch or the curl list.", "small"));
    const where = folderOf(rel);
    if (withFolder && where !== state.folder) {
      const inside = document.createElement("div"); inside.className = "where small";
      inside.append(span("in "), openFolderButton(where, where, `Open folder ${readable(where)}`));
      cell.append(inside);
    }
    const size = document.createElement("td"); size.className = "num";
    size.textContent = bytes(row.size);
    size.title = count(row.size, "byte");
    const modified = document.createElement("td"); modified.className = "date";
    modified.textContent = when(row.modified);
    const actions = document.createElement("td"); actions.className = "actions";
    if (browserSafe(row.key)) {
      if (sameOrigin(row.url)) { // cross-origin, a browser ignores `download` and opens the file
        const download = document.createElement("a");
        download.href = row.url; download.download = name.replace(/[\\/]/g, "_") || "download";
        download.rel = "noopener noreferrer"; download.className = "action";
        download.textContent = "Download";
        download.setAttribute("aria-label", `Download ${readable(name)}`);
        actions.append(download);
      }
      actions.append(copyButton("Copy link", `Copy the link to ${readable(name)}`, () => row.url));
    }
    tr.append(cell, size, modified, actions);
    return tr;
  }
  function folderRow(folder) {
    const tr = document.createElement("tr"); tr.className = "folder-row";
    const cell = document.createElement("td"); cell.className = "name";
    const line = document.createElement("div"); line.className = "line";
    line.append(openFolderButton(folder.path, folder.name, `Open folder ${readable(folder.name)} (${count(folder.files, "file")}, ${bytes(folder.size)})`));
    cell.append(line, span(count(folder.files, "file"), "small counts"));
    const size = document.createElement("td"); size.className = "num"; size.textContent = bytes(folder.size);
    const modified = document.createElement("td"); modified.className = "date"; modified.textContent = when(folder.modified);
    tr.append(cell, size, modified, document.createElement("td"));
    return tr;
  }
  let crumbsFor = null;
  function crumbs() {
    const nav = $("crumbs");
    nav.hidden = !state.folder && state.view !== "folders";
    if (crumbsFor === state.folder) return; // kept as they are: one may hold the focus
    crumbsFor = state.folder;
    const items = [];
    const top = button(readable(prefix || "/"), `Top folder ${readable(prefix || "/")}`);
    top.addEventListener("click", () => go({ folder: "", query: "", page: 0 }, { focus: "crumb" }));
    items.push(top);
    let path = "";
    for (const segment of state.folder.split("/").slice(0, -1)) {
      path += `${segment}/`;
      const target = path;
      const step = button(readable(`${segment}/`));
      step.addEventListener("click", () => go({ folder: target, query: "", page: 0 }, { focus: "crumb" }));
      items.push(span("\u203a", "sep"), step);
    }
    items[items.length - 1].setAttribute("aria-current", "location");
    nav.replaceChildren(...items);
  }
  function setSortHeaders() {
    for (const key of ["name", "size", "modified"]) {
      $(`th-${key}`).setAttribute("aria-sort", state.sort === key ? (state.dir === 1 ? "ascending" : "descending") : "none");
    }
    $("view-list").setAttribute("aria-pressed", String(state.view === "list"));
    $("view-folders").setAttribute("aria-pressed", String(state.view === "folders"));
  }
  function scopeText(view) {
    const where = state.folder ? ` in ${readable(state.folder)}` : "";
    if (state.query) return `the ${count(view ? view.count : 0, "file")} matching \u201c${readable(state.query)}\u201d${where}`;
    return state.folder ? `every file in ${readable(state.folder)} and its folders` : "every file";
  }

  let redrawQueued = null;
  function redraw() {
    if (redrawQueued) return;
    redrawQueued = setTimeout(() => { redrawQueued = null; render(); }, 150);
  }
  async function render() {
    if (expired) return;
    const token = ++renderToken;
    crumbs(); setSortHeaders();
    document.body.dataset.state = "loading";
    $("range").textContent = "Loading\u2026";
    for (const id of ["prev", "next", "prev-bottom", "next-bottom"]) $(id).disabled = true;
    if (failure) { showFailure(); return; }
    let view;
    try { view = await compute(redraw); } catch {
      if (token === renderToken) showFailure();
      return;
    }
    if (token !== renderToken || expired || !view) return;
    view.state = fragment(state);
    lastView = view;
    // The same rows as on screen are not drawn again (a control in them may hold the focus).
    const signature = [fragment(state), view.count, view.rows.length, ...view.rows.map((r) => (r.folder ? r.folder.path : r.file.key))].join("\n");
    if (signature !== drawn) {
      drawn = signature;
      $("rows").replaceChildren(...view.rows.map((r) => (r.folder ? folderRow(r.folder) : fileRow(r.file, r.withFolder))));
    }
    const shown = view.rows;
    const pages = Math.max(1, Math.ceil(view.count / PAGE_ROWS));
    if (view.complete && state.page >= pages) { go({ page: pages - 1 }, { push: false }); return; }
    const first = view.count ? state.page * PAGE_ROWS + 1 : 0;
    const last = Math.min(state.page * PAGE_ROWS + view.rows.length, view.count);
    const noun = view.noun === "item" ? "item" : view.noun === "match" ? "match" : "file";
    const plural = view.count === 1 ? noun : noun === "match" ? "matches" : `${noun}s`;
    $("range").textContent = view.complete || view.count
      ? `${number.format(first)}\u2013${number.format(last)} of ${number.format(view.count)}${view.complete ? "" : "+"} ${plural}`
      : "Loading\u2026";
    for (const id of ["prev", "prev-bottom"]) $(id).disabled = state.page === 0;
    for (const id of ["next", "next-bottom"]) $(id).disabled = !(last < view.count);
    $("pager-bottom").hidden = view.rows.length < 20;
    let status = "";
    const [done, of] = view.progress || [0, 0];
    if (!view.complete && !view.cancelled) {
      status = state.query ? `Searching: ${number.format(done)} of ${count(of, "part")}, ${count(view.count, "match").replace("matchs", "matches")} so far\u2026`
        : `Loading the list: ${number.format(done)} of ${count(of, "part")}\u2026`;
    } else if (view.cancelled) {
      status = `Stopped after ${number.format(done)} of ${count(of, "part")}: showing what was found by then.`;
    } else if (view.capped && state.query) {
      status = `Showing the first ${number.format(MATCH_CAP)} matches: add words to narrow the search.`;
    } else if (view.top) {
      status = `Sorted by ${state.sort === "size" ? "size" : "date"}: the first ${number.format(TOP_CAP)} files are shown.`;
    } else if (view.capped) {
      status = `This folder holds more than ${number.format(SORT_LIMIT)} files: the first ${number.format(SORT_LIMIT)} are shown.`;
    } else if (view.count === 0) {
      status = total === 0 ? "Nothing was shared: the list is empty." : state.query ? "Nothing matches." : "This folder is empty.";
    } else if (view.keyOrder) {
      status = `${count(view.count, "file")}: in key order (too many to sort by name here).`;
    }
    $("status").textContent = status;
    $("cancel").hidden = view.complete || view.cancelled;
    $("retry").hidden = true;
    $("list-scope").textContent = scopeText(view);
    $("download-all").textContent = state.query ? "Download the files found" : state.folder ? "Download this folder" : "Download all";
    if (!document.body.dataset.firstRowsMs && shown.length) {
      document.body.dataset.firstRowsMs = String(Math.round(performance.now() - started));
    }
    document.body.dataset.state = view.complete || view.cancelled ? "ready" : "loading";
    applyFocus();
  }
  function showFailure() {
    $("status").textContent = failure; $("retry").hidden = !failure; $("cancel").hidden = true;
    $("range").textContent = "";
    document.body.dataset.state = "failed";
  }
  function applyFocus() {
    const want = pendingFocus; pendingFocus = null;
    if (want === "crumb") {
      const current = document.querySelector("#crumbs [aria-current]");
      if (current) current.focus();
    } else if (want === "table") {
      const active = document.activeElement;
      if (!active || active === document.body || active.disabled || active.id.endsWith("-bottom") || active.id === "search") $("files").focus({ preventScroll: true });
    } else if (want === "page") { // paging: land on the top of the list
      const active = document.activeElement;
      if (!active || active === document.body || active.disabled || active.id.endsWith("-bottom")) $("files").focus({ preventScroll: true });
      $("browse-title").scrollIntoView({ block: "start" });
    }
  }
  function turnPage(delta) {
    go({ page: Math.max(0, state.page + delta) }, { focus: "page" });
  }

  // -- link lists made in the browser: exactly the files the view shows ---------------------------
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
  async function filesOnScreen(status) {
    // A search: its matches (all pages). Otherwise every file below the folder shown.
    if (state.query) {
      const view = lastView;
      if (!view || view.state !== fragment(state) || !(view.complete || view.cancelled)) {
        status.textContent = "The search is still running: save when it is done (or stop it).";
        return null;
      }
      return view.all || [];
    }
    const start = prefix + state.folder;
    const size = state.folder ? (folders.get(state.folder) || {}).files : total;
    if (size > SAVE_CAP) {
      status.textContent = `${count(size, "file")} are more than a list made in a browser can hold (${number.format(SAVE_CAP)}): use fanout-fetch, or open a folder.`;
      return null;
    }
    const list = partsUnder(start);
    const out = [];
    // Its own stream: a save neither stops the view's nor is stopped by it.
    const j = { key: "save", cancelled: false, done: 0, progress: () => { status.textContent = `Preparing the list: ${number.format(j.done)} of ${count(list.length, "part")}\u2026`; } };
    await stream(list, j, (rows) => { for (const row of rows) if (row.key.startsWith(start)) out.push(row); });
    if (j.cancelled) { status.textContent = failure || "Stopped."; return null; }
    return out.sort((a, b) => keyCompare(a.key, b.key));
  }
  async function saveList(kind) {
    const status = $("save-status");
    status.textContent = "Preparing the list\u2026";
    let chosen;
    try { chosen = await filesOnScreen(status); } catch { status.textContent = failure; return; }
    if (!chosen) return;
    if (!chosen.length) { status.textContent = "Nothing to save: no file is shown."; return; }
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
    if (!lines.length) { status.textContent = `Nothing to save: none of the ${count(chosen.length, "file")} can go in this list.`; return; }
    const head = kind === "curl" ? `# curl --parallel --create-dirs --fail -K ${names.curl}\npath-as-is\n` : "";
    const blob = new Blob([head, ...lines], { type: "text/plain" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = names[kind];
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status.textContent = `Saved ${names[kind]}: ${count(lines.length, "link")}` +
      (left ? ` (${number.format(left)} left out: a name that leaves the folder, repeats another, holds a control character${kind === "curl" ? "" : " or a '.'/'..' folder - the curl list has those"})` : "") + ".";
  }

  // One after another, each an <a download> click: honoured when the page and the files
  // share an origin (the browser asks once to allow several). Across origins it would open
  // each file instead, so the button is only offered on one origin.
  async function downloadMany() {
    const status = $("download-status");
    let chosen;
    try { chosen = await filesOnScreen(status); } catch { status.textContent = failure; return; }
    if (!chosen) return;
    const files = chosen.filter((row) => browserSafe(row.key) && localPath(row.key) !== null && sameOrigin(row.url));
    if (!files.length) { status.textContent = "Nothing to download: no file is shown."; return; }
    if (files.length > DOWNLOAD_CAP) {
      status.textContent = `${count(files.length, "file")} are too many to download one by one here (${number.format(DOWNLOAD_CAP)} at most): use fanout-fetch or a link list (Other ways).`;
      return;
    }
    for (const [n, row] of files.entries()) {
      const link = document.createElement("a");
      link.href = row.url; link.rel = "noopener noreferrer";
      link.download = localPath(row.key).replace(/\//g, "_"); // a browser saves into one folder
      document.body.append(link); link.click(); link.remove();
      status.textContent = `Downloading: ${number.format(n + 1)} of ${count(files.length, "file")}\u2026`;
      await new Promise((resolve) => { setTimeout(resolve, 300); }); // a browser drops clicks that come too fast
    }
    status.textContent = `Asked the browser to save ${count(files.length, "file")} (folders become part of each name).`;
  }

  // -- jump to a name -----------------------------------------------------------------------------
  async function jump(text) {
    const status = $("jump-status");
    if (!text) return;
    if (state.query) go({ query: "" }, { push: true });
    $("search").value = "";
    const view = lastView;
    if (view && view.keyOrder && state.view === "list" && state.sort === "name" && state.dir === 1) {
      const target = prefix + state.folder + text;
      const { first: from, end } = await keyOrderBounds(state.folder);
      // the part holding the first key >= target, then the row in it
      const lo = firstPartReaching(target);
      let pos = end;
      if (lo < parts.length) {
        const rows = await loadPart(lo);
        const i = rows.findIndex((r) => keyCompare(r.key, target) >= 0);
        pos = parts[lo].start + (i < 0 ? rows.length : i);
      }
      pos = Math.min(Math.max(pos, from), Math.max(from, end - 1));
      highlightAfter = pos - from;
      go({ page: Math.floor((pos - from) / PAGE_ROWS) });
      status.textContent = "";
      return;
    }
    // a sorted view held here: the first entry at or after the text
    const all = view && view.all ? view.all : null;
    if (state.view === "list" && all) {
      const i = all.findIndex((r) => collator.compare(pathName(r).slice(state.folder.length), text) >= 0);
      highlightAfter = i < 0 ? all.length - 1 : i;
      go({ page: Math.floor(highlightAfter / PAGE_ROWS) });
      return;
    }
    const listing = listings.get(`F:${state.folder}`);
    if (listing && !listing.lazy) {
      const dirs = listing.folders.slice().sort(compareBy("name", 1, (f) => f.name));
      const files = listing.files.slice().sort(compareBy("name", 1, fileName));
      let i = dirs.findIndex((f) => collator.compare(f.name, text) >= 0);
      if (i < 0) { const k = files.findIndex((r) => collator.compare(fileName(r), text) >= 0); i = dirs.length + (k < 0 ? files.length - 1 : k); }
      highlightAfter = i;
      go({ sort: "name", dir: 1, page: Math.floor(i / PAGE_ROWS) });
    }
  }
  let highlightAfter = null;
  const observer = new MutationObserver(() => {
    if (highlightAfter === null) return;
    const row = $("rows").rows[highlightAfter % PAGE_ROWS];
    highlightAfter = null;
    if (row) { row.classList.add("jumped"); const target = row.querySelector("a, button"); if (target) target.focus(); }
  });
  observer.observe($("rows"), { childList: true });

  // -- wiring --------------------------------------------------------------------------------
  let searchTimer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => go({ query: event.target.value.trim(), page: 0 }, { search: true }), 200);
  });
  $("search").addEventListener("keydown", (event) => { if (event.key !== "Enter") return;
    clearTimeout(searchTimer);
    const query = event.target.value.trim();
    for (const key of [...listings.keys()]) if (key.startsWith(`S:${state.folder}:search:${query}:`)) listings.delete(key); // Enter runs it again
    go({ query, page: 0 }, { search: true, focus: "table" });
  });
  window.addEventListener("popstate", fromLocation);
  window.addEventListener("hashchange", fromLocation);
  const sortBy = (key) => () => go({ dir: state.sort === key ? -state.dir : 1, sort: key, page: 0 });
  $("sort-name").addEventListener("click", sortBy("name"));
  $("sort-size").addEventListener("click", sortBy("size"));
  $("sort-modified").addEventListener("click", sortBy("modified"));
  $("view-list").addEventListener("click", () => go({ view: "list", page: 0 }));
  $("view-folders").addEventListener("click", () => go({ view: "folders", page: 0 }));
  for (const id of ["prev", "prev-bottom"]) $(id).addEventListener("click", () => turnPage(-1));
  for (const id of ["next", "next-bottom"]) $(id).addEventListener("click", () => turnPage(1));
  $("retry").addEventListener("click", () => { failure = ""; listings.clear(); drawn = null; render(); });
  $("cancel").addEventListener("click", () => { if (job) { job.byUser = true; job.cancelled = true; } redraw(); });
  $("save-aria2").addEventListener("click", () => saveList("aria2"));
  $("save-curl").addEventListener("click", () => saveList("curl"));
  $("save-urls").addEventListener("click", () => saveList("urls"));
  $("download-all").addEventListener("click", downloadMany);
  // The files' origin: known from the first part read; until then, the page being in the
  // source bucket itself (the default) says the same.
  filesShareOrigin = location.hostname.startsWith(`${share.bucket}.`) || location.pathname.startsWith(`/${share.bucket}/`);
  $("download-many").hidden = !total || !filesShareOrigin;
  $("jump").addEventListener("submit", (event) => { event.preventDefault(); jump($("jump-to").value); });
  const copyFetch = copyButton("Copy", "Copy the command", () => $("fetch-command").textContent);
  copyFetch.id = "copy-fetch";
  $("copy-fetch").replaceWith(copyFetch);
  // The skip link moves focus without touching the fragment (which holds the view).
  $("skip").addEventListener("click", (event) => { event.preventDefault(); $("files").focus(); });

  header();
  tick();
  setInterval(tick, 1000);
  Object.assign(state, readFragment());
  $("search").value = state.query;
  render();
})();
