#!/usr/bin/env node
// What a merchant downloads from Rekomi, measured in a real browser (Debian's Chromium, driven by
// the Playwright that end2end/ installs), against a server that is already running at BASE_URL
// (default http://127.0.0.1:3000, where scripts/run.sh serves):
//   (a) the first load of /app with an empty cache: bytes on the wire (response headers included)
//       and decoded, per resource kind and per Content-Encoding, and the wasm file's transfer;
//   (b) every merchant page loaded directly with that cache warm: bytes on the wire, requests, and
//       which responses came from the memory cache, the disk cache or a 304;
//   (c) the files in target/site/pkg (env SITE_PKG): raw size and the .br/.gz siblings' sizes, or
//       brotli q11 / gzip -9 sizes computed here (marked "computed") where a sibling is missing.
// It signs up a fresh merchant through the sign-up server function (/api/sign_up) and creates one
// campaign (/api/create_campaign) so /app/campaigns/{id} is measured too (SKIP_CAMPAIGN=1: don't).
// Markdown tables go to stdout (for the README), progress to stderr, everything as JSON to
// target/wire-size.json (env OUT).
//
// Run it:
//   cargo leptos build --release --precompress --split   (writes target/site/pkg and its .br/.gz siblings)
//   then start the server: scripts/run.sh (it runs that build itself and serves the app in demo mode
//     at http://127.0.0.1:3000), or the built binary, e.g.
//     LEPTOS_SITE_ROOT=target/site REKOMI_AUTH_RATE_PER_MINUTE=0 "$CARGO_TARGET_DIR/release/server"
//   then, in another shell: scripts/wire-size.sh   (or node scripts/wire-size.mjs; --static-only
//     reports only the files on disk, without a server or a browser)
// Env: BASE_URL, CHROMIUM_PATH (default /usr/bin/chromium), SITE_PKG, OUT, NAV_TIMEOUT_MS,
// PLAYWRIGHT_FROM (a folder whose node_modules has Playwright; default end2end/).
// Sign-up is rate limited per IP (10 a minute by default); REKOMI_AUTH_RATE_PER_MINUTE=0 lifts it.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BASE_URL = (process.env.BASE_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SITE_PKG = path.resolve(
  ROOT,
  process.env.SITE_PKG || path.join(process.env.LEPTOS_SITE_ROOT || "target/site", "pkg"),
);
const OUT = path.resolve(ROOT, process.env.OUT || "target/wire-size.json");
const NAV_TIMEOUT_MS = Number(process.env.NAV_TIMEOUT_MS || 60_000);
const STATIC_ONLY = process.argv.includes("--static-only") || process.env.STATIC_ONLY === "1";
const SKIP_CAMPAIGN = process.env.SKIP_CAMPAIGN === "1";
/** Extra wait after `networkidle`, so the last events of our own CDP session have arrived. */
const SETTLE_MS = 300;
const PASSWORD = "correct horse battery";
const MERCHANT_PAGES = [
  "/app",
  "/app/campaigns/new",
  "/app/queue",
  "/app/klaviyo",
  "/app/invites",
  "/app/import",
  "/app/results",
  "/app/payouts",
  "/app/tracking",
  "/app/integrations",
];
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const KIND_ORDER = ["Document", "Script", "Wasm", "Stylesheet", "Server fn", "EventSource", "Other"];

class Fatal extends Error {}

const log = (...args) => console.error("[wire-size]", ...args);

// ---------------------------------------------------------------------------------------------
// Formatting

function fmt(n) {
  if (n == null) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
}

const exact = (n) => (n == null ? "–" : `${n.toLocaleString("en-US")} B`);
const pct = (part, whole) => {
  if (part == null || !whole) return "";
  const p = (100 * part) / whole;
  return ` (${p < 10 ? p.toFixed(1) : p.toFixed(0)}%)`;
};
const cell = (v) => String(v ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A Markdown table; `align` has one of "l" / "r" per column. */
function table(head, rows, align) {
  const sep = head.map((_, i) => ((align?.[i] ?? "l") === "r" ? "---:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.map(cell).join(" | ")} |`).join("\n");
}

function pathOf(url) {
  try {
    const u = new URL(url);
    return u.origin === BASE_URL ? u.pathname + u.search : url;
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the server directly (sign-up, campaign)

async function http(method, urlPath, { body, cookies } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookies?.length) headers.cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  let res;
  try {
    res = await fetch(BASE_URL + urlPath, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "manual",
    });
  } catch (error) {
    const cause = error.cause?.code || error.cause?.message || error.message;
    throw new Fatal(
      `Rekomi is not reachable at ${BASE_URL} (${method} ${urlPath}: ${cause}).\n` +
        "Start it first (scripts/run.sh serves http://127.0.0.1:3000), or point BASE_URL at it.",
    );
  }
  const text = await res.text();
  return { res, text };
}

async function checkServer() {
  const { res, text } = await http("GET", "/healthz");
  if (res.status !== 200) {
    throw new Fatal(`GET ${BASE_URL}/healthz answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

function parseSetCookie(line) {
  const [pair, ...attrs] = line.split(";");
  const eq = pair.indexOf("=");
  if (eq <= 0) return null;
  const cookie = {
    name: pair.slice(0, eq).trim(),
    value: pair.slice(eq + 1).trim(),
    domain: new URL(BASE_URL).hostname,
    path: "/",
    httpOnly: false,
    secure: false,
    sameSite: "Lax",
  };
  let expired = false;
  for (const attr of attrs) {
    const i = attr.indexOf("=");
    const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? "" : attr.slice(i + 1).trim();
    if (key === "path") cookie.path = val || "/";
    else if (key === "httponly") cookie.httpOnly = true;
    else if (key === "secure") cookie.secure = true;
    else if (key === "samesite") {
      const s = val.toLowerCase();
      cookie.sameSite = s === "strict" ? "Strict" : s === "none" ? "None" : "Lax";
    } else if (key === "max-age") {
      const secs = Number(val);
      if (Number.isFinite(secs)) {
        if (secs <= 0) expired = true;
        else cookie.expires = Math.floor(Date.now() / 1000) + secs;
      }
    }
  }
  return cookie.value && !expired ? cookie : null;
}

async function signUp() {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
  const merchant = { shop_name: `Wire Size ${id}`, email: `wire-size-${id}@example.com`, password: PASSWORD };
  // `sign_up(shop_name, email, password)` in app/src/api/accounts.rs, a Json-input server function.
  const { res, text } = await http("POST", "/api/sign_up", { body: merchant });
  if (res.status !== 200) {
    const hint = /too many/i.test(text)
      ? "\nSign-up is rate limited per IP: restart the server with REKOMI_AUTH_RATE_PER_MINUTE=0, or wait a minute."
      : "";
    throw new Fatal(`Sign-up failed: POST ${BASE_URL}/api/sign_up answered ${res.status}:\n${text.slice(0, 2000)}${hint}`);
  }
  const cookies = res.headers
    .getSetCookie()
    .map(parseSetCookie)
    .filter(Boolean);
  if (!cookies.length) {
    throw new Fatal(`Sign-up answered 200 but set no session cookie. Body:\n${text.slice(0, 2000)}`);
  }
  return { shopName: merchant.shop_name, email: merchant.email, cookies };
}

async function createCampaign(cookies) {
  // `create_campaign(form: CampaignForm)` in app/src/api/campaigns.rs; the form is
  // shared/src/domain/campaign.rs (every field a string or flag, missing ones take defaults).
  const form = {
    name: "Wire size campaign",
    slug: "",
    pitch: "Earn 10% on every order you refer.",
    terms: "Be honest about the products you recommend.",
    commission_kind: "percent",
    commission_rate: "10",
    commission_amount: "",
    currency: "USD",
    cookie_days: "30",
    attribution: "last",
    hold_days: "30",
    min_payout: "",
    destination_url: "https://shop.example.com",
    auto_approve: false,
    accepting: true,
  };
  const { res, text } = await http("POST", "/api/create_campaign", { body: { form }, cookies });
  let id = null;
  try {
    id = JSON.parse(text)?.id ?? null;
  } catch {
    /* reported below */
  }
  if (res.status !== 200 || !Number.isInteger(id)) {
    log(`could not create a campaign (POST /api/create_campaign answered ${res.status}): ${text.slice(0, 500)}`);
    log("going on without /app/campaigns/{id}");
    return null;
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// The browser side

function loadPlaywright() {
  const from = path.resolve(ROOT, process.env.PLAYWRIGHT_FROM || "end2end");
  const req = createRequire(path.join(from, "package.json"));
  const tried = [];
  for (const name of ["playwright-core", "@playwright/test", "playwright"]) {
    try {
      const mod = req(name);
      if (!mod?.chromium) continue;
      let version = null;
      try {
        version = req(`${name}/package.json`).version;
      } catch {
        /* the version is only for the report */
      }
      return { chromium: mod.chromium, name, version };
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND" && error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error;
      tried.push(name);
    }
  }
  throw new Fatal(
    `Playwright not found from ${from} (tried ${tried.join(", ")}). Install it: (cd end2end && npm ci)`,
  );
}

const lower = (headers) => Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

/** Collects CDP Network events into one record per request; `start()`/`stop()` frame one page load. */
class Recorder {
  constructor(cdp) {
    this.byId = new Map();
    this.requestExtra = new Map();
    this.responseExtra = new Map();
    this.bucket = null;
    /** The Content-Encoding each URL last came with from the network, for its later 304s. */
    this.encodingByUrl = new Map();
    const get = (id) => this.byId.get(id);
    cdp.on("Network.requestWillBeSent", (e) => {
      const known = get(e.requestId);
      if (known && e.redirectResponse) {
        known.redirects.push({
          url: known.url,
          status: e.redirectResponse.status,
          wireBytes: e.redirectResponse.encodedDataLength ?? 0,
        });
        known.url = e.request.url;
        return;
      }
      const r = {
        id: e.requestId,
        url: e.request.url,
        method: e.request.method,
        cdpType: e.type ?? "Other",
        redirects: [],
        status: null,
        mimeType: null,
        headers: {},
        protocol: null,
        fromMemoryCache: false,
        fromDiskCache: false,
        fromServiceWorker: false,
        fromPrefetchCache: false,
        headerBytes: null,
        dataBytes: 0,
        dataEvents: 0,
        encodedSoFar: 0,
        wireBytes: null,
        finished: false,
        failed: false,
        errorText: null,
      };
      this.byId.set(e.requestId, r);
      if (this.bucket) this.bucket.push(r);
    });
    cdp.on("Network.requestWillBeSentExtraInfo", (e) => this.requestExtra.set(e.requestId, lower(e.headers)));
    cdp.on("Network.responseReceivedExtraInfo", (e) =>
      this.responseExtra.set(e.requestId, { statusCode: e.statusCode, headers: lower(e.headers) }),
    );
    cdp.on("Network.requestServedFromCache", (e) => {
      const r = get(e.requestId);
      if (r) r.fromMemoryCache = true;
    });
    cdp.on("Network.responseReceived", (e) => {
      const r = get(e.requestId);
      if (!r) return;
      const res = e.response;
      r.cdpType = e.type ?? r.cdpType;
      r.status = res.status;
      r.mimeType = res.mimeType;
      r.headers = lower(res.headers);
      r.protocol = res.protocol ?? null;
      r.fromDiskCache = Boolean(res.fromDiskCache);
      r.fromServiceWorker = Boolean(res.fromServiceWorker);
      r.fromPrefetchCache = Boolean(res.fromPrefetchCache);
      r.headerBytes = res.encodedDataLength ?? null;
      if (res.status === 200 && !res.fromDiskCache && !r.fromMemoryCache) {
        this.encodingByUrl.set(r.url, r.headers["content-encoding"] || "identity");
      }
    });
    cdp.on("Network.dataReceived", (e) => {
      const r = get(e.requestId);
      if (!r) return;
      r.dataBytes += e.dataLength ?? 0;
      r.encodedSoFar += e.encodedDataLength ?? 0;
      r.dataEvents += 1;
    });
    cdp.on("Network.loadingFinished", (e) => {
      const r = get(e.requestId);
      if (!r) return;
      r.finished = true;
      r.wireBytes = e.encodedDataLength ?? 0;
    });
    cdp.on("Network.loadingFailed", (e) => {
      const r = get(e.requestId);
      if (!r) return;
      r.failed = true;
      r.errorText = e.canceled ? "canceled" : e.errorText || e.blockedReason || "failed";
    });
  }

  start() {
    this.bucket = [];
  }

  stop() {
    const records = this.bucket ?? [];
    this.bucket = null;
    return records;
  }

  /** The measured facts about one request, as they stand now. */
  describe(r) {
    const extra = this.responseExtra.get(r.id);
    const revalidated = r.status === 304 || extra?.statusCode === 304;
    const status = revalidated ? 304 : (r.status ?? extra?.statusCode ?? null);
    const cache = r.fromMemoryCache
      ? "memory"
      : r.fromDiskCache
        ? "disk"
        : r.fromServiceWorker
          ? "service worker"
          : r.fromPrefetchCache
            ? "prefetch"
            : revalidated
              ? "304"
              : r.failed
                ? `failed (${r.errorText})`
                : !r.finished
                  ? "network (still open)"
                  : "network";
    const redirectBytes = r.redirects.reduce((sum, h) => sum + h.wireBytes, 0);
    const wireBytes = r.finished
      ? (r.wireBytes ?? 0) + redirectBytes
      : (r.headerBytes ?? 0) + r.encodedSoFar + redirectBytes;
    // A 304 carries no Content-Encoding: the body comes from the cached copy, encoded as it was.
    const encoding =
      r.headers["content-encoding"] ||
      extra?.headers["content-encoding"] ||
      (revalidated ? this.encodingByUrl.get(r.url) : null) ||
      "identity";
    return {
      url: r.url,
      path: pathOf(r.url),
      method: r.method,
      cdpType: r.cdpType,
      kind: kindOf(r),
      status,
      mimeType: r.mimeType,
      protocol: r.protocol,
      contentEncoding: encoding,
      contentLength: r.headers["content-length"] != null ? Number(r.headers["content-length"]) : null,
      cacheControl: r.headers["cache-control"] ?? null,
      etag: r.headers.etag ?? null,
      lastModified: r.headers["last-modified"] ?? null,
      cache,
      fromCache: cache === "memory" || cache === "disk" || cache === "service worker" || cache === "prefetch",
      revalidated,
      wireBytes,
      headerBytes: r.headerBytes,
      decodedBytes: r.dataEvents > 0 || (r.finished && r.wireBytes === 0) ? r.dataBytes : null,
      finished: r.finished,
      failed: r.failed,
      errorText: r.errorText,
      redirects: r.redirects,
      acceptEncoding: this.requestExtra.get(r.id)?.["accept-encoding"] ?? null,
    };
  }
}

function kindOf(r) {
  const p = (() => {
    try {
      return new URL(r.url).pathname;
    } catch {
      return r.url;
    }
  })();
  const mime = (r.mimeType || "").toLowerCase();
  if (r.cdpType === "Document") return "Document";
  if (r.cdpType === "EventSource" || mime === "text/event-stream") return "EventSource";
  if (mime === "application/wasm" || p.endsWith(".wasm")) return "Wasm";
  if (p.startsWith("/api/") && (r.cdpType === "Fetch" || r.cdpType === "XHR")) return "Server fn";
  if (r.cdpType === "Script") return "Script";
  if (r.cdpType === "Stylesheet") return "Stylesheet";
  return "Other";
}

function summarize(requests) {
  const group = (keyOf) => {
    const out = {};
    for (const r of requests) {
      const k = keyOf(r);
      const g = (out[k] ??= { requests: 0, wireBytes: 0, decodedBytes: 0 });
      g.requests += 1;
      g.wireBytes += r.wireBytes;
      g.decodedBytes += r.decodedBytes ?? 0;
    }
    return out;
  };
  return {
    requests: requests.length,
    wireBytes: requests.reduce((s, r) => s + r.wireBytes, 0),
    decodedBytes: requests.reduce((s, r) => s + (r.decodedBytes ?? 0), 0),
    fromCache: requests.filter((r) => r.fromCache).length,
    revalidated: requests.filter((r) => r.revalidated).length,
    byKind: group((r) => r.kind),
    byEncoding: group((r) => (r.fromCache ? `${r.contentEncoding} (from cache)` : r.contentEncoding)),
    byCache: group((r) => r.cache),
  };
}

async function load(page, recorder, url) {
  recorder.start();
  let idle = true;
  let error = null;
  const started = Date.now();
  try {
    await page.goto(BASE_URL + url, { waitUntil: "networkidle", timeout: NAV_TIMEOUT_MS });
  } catch (e) {
    if (e?.name !== "TimeoutError") {
      recorder.stop();
      throw e;
    }
    idle = false;
    error = `networkidle not reached within ${NAV_TIMEOUT_MS} ms; measured what had arrived`;
    log(`${url}: ${error}`);
  }
  await page.waitForTimeout(SETTLE_MS);
  const records = recorder.stop();
  const requests = records.map((r) => recorder.describe(r));
  return {
    page: url,
    finalUrl: pathOf(page.url()),
    networkIdle: idle,
    note: error,
    elapsedMs: Date.now() - started,
    totals: summarize(requests),
    requests,
  };
}

async function measureBrowser(cookies, campaignId) {
  const { chromium, name, version } = loadPlaywright();
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Fatal(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH.`);
  }
  log(`launching ${CHROMIUM_PATH} with ${name} ${version ?? ""}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ javaScriptEnabled: true });
    await context.addCookies(cookies);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const recorder = new Recorder(cdp);
    await cdp.send("Network.enable");

    log("first load of /app with an empty cache");
    const firstLoad = await load(page, recorder, "/app");
    if (!firstLoad.finalUrl.startsWith("/app")) {
      throw new Fatal(
        `/app led to ${firstLoad.finalUrl}: the session cookie from sign-up was not accepted ` +
          `(cookies: ${cookies.map((c) => c.name).join(", ")}).`,
      );
    }

    const pages = [...MERCHANT_PAGES];
    if (campaignId != null) pages.splice(2, 0, `/app/campaigns/${campaignId}`);
    const warm = [];
    for (const url of pages) {
      log(`warm load of ${url}`);
      warm.push(await load(page, recorder, url));
    }
    await cdp.detach().catch(() => {});
    await context.close();
    return { chromium: browser.version(), playwright: `${name} ${version ?? ""}`.trim(), firstLoad, warm };
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Static assets on disk

function walk(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function staticSizes() {
  if (!fs.existsSync(SITE_PKG)) {
    log(`${SITE_PKG} does not exist; skipping the static asset sizes`);
    return { dir: SITE_PKG, missing: true, files: [] };
  }
  const all = walk(SITE_PKG);
  const present = new Set(all);
  const isSibling = (f) => /\.(br|gz)$/.test(f) && present.has(f.replace(/\.(br|gz)$/, ""));
  const files = [];
  for (const file of all.filter((f) => !isSibling(f))) {
    const raw = fs.statSync(file).size;
    const entry = { file: path.relative(SITE_PKG, file).split(path.sep).join("/"), raw };
    let data = null;
    const content = () => (data ??= fs.readFileSync(file));
    for (const [enc, compress] of [
      [
        "br",
        (buf) =>
          zlib.brotliCompressSync(buf, {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
            },
          }).length,
      ],
      ["gz", (buf) => zlib.gzipSync(buf, { level: 9 }).length],
    ]) {
      const sibling = `${file}.${enc}`;
      if (present.has(sibling)) {
        entry[enc] = { bytes: fs.statSync(sibling).size, computed: false };
      } else if (/\.(br|gz)$/.test(file)) {
        entry[enc] = null; // an orphaned .br/.gz: nothing to compress
      } else {
        log(`compressing ${entry.file} (${enc}) in-process`);
        entry[enc] = { bytes: compress(content()), computed: true };
      }
    }
    files.push(entry);
  }
  files.sort((a, b) => b.raw - a.raw);
  const sum = (k) => files.reduce((s, f) => s + (k === "raw" ? f.raw : (f[k]?.bytes ?? 0)), 0);
  return { dir: SITE_PKG, missing: false, files, totals: { raw: sum("raw"), br: sum("br"), gz: sum("gz") } };
}

// ---------------------------------------------------------------------------------------------
// Report

function kindRows(totals) {
  const kinds = Object.keys(totals.byKind).sort((a, b) => KIND_ORDER.indexOf(a) - KIND_ORDER.indexOf(b));
  return kinds.map((k) => {
    const g = totals.byKind[k];
    return [k, g.requests, fmt(g.wireBytes), fmt(g.decodedBytes)];
  });
}

function short(p) {
  return p.startsWith("/pkg/") ? p.slice("/pkg/".length) : p;
}

function markdown(result) {
  const out = [];
  out.push(`## Wire size`);
  out.push("");
  const meta = [`Measured ${result.measuredAt} against ${result.baseUrl}`];
  if (result.browser) {
    meta.push(`with Chromium ${result.browser.chromium} (${result.browser.playwright})`);
  }
  out.push(`${meta.join(" ")}.`);
  if (result.browser) {
    const ae = result.browser.firstLoad.requests.find((r) => r.kind === "Document")?.acceptEncoding;
    if (ae) out.push(`The browser sent \`Accept-Encoding: ${ae}\`.`);
    out.push(
      "Wire bytes are what arrived for each response, headers included (CDP `encodedDataLength`); " +
        "decoded bytes are the bodies after decompression. Request bytes sent are not counted.",
    );
  }
  out.push("");

  if (result.browser) {
    const first = result.browser.firstLoad;
    const t = first.totals;
    out.push(`### First load of \`/app\`, empty cache`);
    out.push("");
    out.push(
      `${t.requests} requests, **${fmt(t.wireBytes)} on the wire** (${exact(t.wireBytes)}), ` +
        `${fmt(t.decodedBytes)} decoded.${first.networkIdle ? "" : ` ${first.note}.`}`,
    );
    out.push("");
    out.push(
      table(
        ["Kind", "Requests", "Wire", "Decoded"],
        [...kindRows(t), ["**Total**", t.requests, `**${fmt(t.wireBytes)}**`, fmt(t.decodedBytes)]],
        ["l", "r", "r", "r"],
      ),
    );
    out.push("");
    out.push(
      table(
        ["Content-Encoding", "Requests", "Wire", "Decoded"],
        Object.entries(t.byEncoding).map(([k, g]) => [k, g.requests, fmt(g.wireBytes), fmt(g.decodedBytes)]),
        ["l", "r", "r", "r"],
      ),
    );
    out.push("");
    out.push(
      table(
        ["Request", "Kind", "Status", "Content-Encoding", "Wire", "Decoded", "Cache"],
        first.requests.map((r) => [
          `\`${r.method === "GET" ? "" : `${r.method} `}${r.path}\``,
          r.kind,
          r.status ?? "–",
          r.contentEncoding,
          fmt(r.wireBytes),
          fmt(r.decodedBytes),
          r.cache,
        ]),
        ["l", "l", "r", "l", "r", "r", "l"],
      ),
    );
    out.push("");
    const wasm = first.requests.filter((r) => r.kind === "Wasm");
    if (!wasm.length) out.push("No wasm request was seen on the first load.");
    for (const w of wasm) {
      out.push(
        `**wasm** \`${w.path}\`: ${exact(w.wireBytes)} on the wire (${fmt(w.wireBytes)}), ` +
          `Content-Encoding **${w.contentEncoding}**, ${w.decodedBytes == null ? "decoded size unknown" : `${exact(w.decodedBytes)} decoded`}` +
          `${w.fromCache ? `, from the ${w.cache} cache` : ""}.`,
      );
    }
    out.push("");

    out.push(`### Merchant pages loaded directly, warm cache`);
    out.push("");
    out.push(
      "Each page is opened with `page.goto` in the same browser context right after the first load, " +
        "so the HTTP cache holds whatever the server let it keep. Cache: memory / disk = served from " +
        "Chromium's cache with no request to the server; 304 = revalidated; network = downloaded.",
    );
    out.push("");
    out.push(
      table(
        ["Page", "Requests", "From cache", "304", "Wire", "Document", "Server fns", "JS + wasm + CSS", "Per request (cache)"],
        result.browser.warm.map((w) => {
          const k = w.totals.byKind;
          const wire = (...kinds) => kinds.reduce((s, kind) => s + (k[kind]?.wireBytes ?? 0), 0);
          const detail = w.requests
            .map((r) => `${short(r.path)} ${r.cache}${r.wireBytes && r.fromCache === false ? ` ${fmt(r.wireBytes)}` : ""}`)
            .join(" · ");
          return [
            `\`${w.page}\`${w.finalUrl !== w.page ? ` → \`${w.finalUrl}\`` : ""}${w.networkIdle ? "" : " (no networkidle)"}`,
            w.totals.requests,
            w.totals.fromCache,
            w.totals.revalidated,
            `**${fmt(w.totals.wireBytes)}**`,
            fmt(wire("Document")),
            fmt(wire("Server fn")),
            fmt(wire("Script", "Wasm", "Stylesheet")),
            detail,
          ];
        }),
        ["l", "r", "r", "r", "r", "r", "r", "r", "l"],
      ),
    );
    out.push("");
  }

  const st = result.static;
  const rel = path.relative(ROOT, st.dir);
  out.push(`### Static assets on disk (\`${rel && !rel.startsWith("..") ? rel : st.dir}\`)`);
  out.push("");
  if (st.missing) {
    out.push(`Not found: build first with \`cargo leptos build --release --precompress --split\`.`);
  } else {
    const served = new Map();
    for (const r of result.browser?.firstLoad.requests ?? []) {
      const p = r.path.split("?")[0];
      if (p.startsWith("/pkg/") && !served.has(p.slice("/pkg/".length))) served.set(p.slice("/pkg/".length), r);
    }
    const comp = (c, raw) => (c == null ? "–" : `${fmt(c.bytes)}${pct(c.bytes, raw)}${c.computed ? " computed" : ""}`);
    const rows = st.files.map((f) => {
      const s = served.get(f.file);
      return [
        `\`${f.file}\``,
        fmt(f.raw),
        comp(f.br, f.raw),
        comp(f.gz, f.raw),
        ...(result.browser ? [s ? `${s.contentEncoding}, ${fmt(s.wireBytes)} wire` : "not requested"] : []),
      ];
    });
    rows.push([
      "**Total**",
      fmt(st.totals.raw),
      `${fmt(st.totals.br)}${pct(st.totals.br, st.totals.raw)}`,
      `${fmt(st.totals.gz)}${pct(st.totals.gz, st.totals.raw)}`,
      ...(result.browser ? [""] : []),
    ]);
    out.push(
      table(
        ["File", "Raw", "Brotli (.br)", "Gzip (.gz)", ...(result.browser ? ["Served on first load"] : [])],
        rows,
        ["l", "r", "r", "r", "l"],
      ),
    );
    if (st.files.some((f) => f.br?.computed || f.gz?.computed)) {
      out.push("");
      out.push(
        '"computed": no such sibling on disk; the size is what brotli quality 11 / gzip level 9 give here ' +
          "(`cargo leptos build --release --precompress --split` writes the siblings).",
      );
    }
  }
  out.push("");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const result = { measuredAt: new Date().toISOString(), baseUrl: BASE_URL, merchant: null, campaignId: null };
  if (!STATIC_ONLY) {
    await checkServer();
    log(`signing up a merchant at ${BASE_URL}`);
    const { shopName, email, cookies } = await signUp();
    result.merchant = { shopName, email };
    if (!SKIP_CAMPAIGN) {
      result.campaignId = await createCampaign(cookies);
      if (result.campaignId != null) log(`created campaign ${result.campaignId}`);
    }
    result.browser = await measureBrowser(cookies, result.campaignId);
  }
  result.static = staticSizes();
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${markdown(result)}\n`);
  log(`JSON written to ${path.relative(process.cwd(), OUT) || OUT}`);
}

main().catch((error) => {
  if (error instanceof Fatal) {
    console.error(`wire-size: ${error.message}`);
  } else {
    console.error("wire-size: unexpected error:", error);
  }
  process.exit(1);
});
