// FAVAD console core: the API client (token in memory, refresh through the
// HttpOnly cookie), the router, translations, Persian formatting, a DOM
// builder that never parses strings as HTML, and the live feed reader.
// Screens live in screens/*.js and register themselves with route().

// ---- translations -------------------------------------------------------
const labels = { fa: {}, en: {} };
let currentLang = localStorage.getItem("favad.lang") === "en" ? "en" : "fa";

/** addLabels merges a screen's labels: addLabels({fa: {...}, en: {...}}). */
export function addLabels(l) {
  Object.assign(labels.fa, l.fa || {});
  Object.assign(labels.en, l.en || {});
}

/** t translates key, filling {name} placeholders from vars. */
export function t(key, vars) {
  let s = labels[currentLang][key] ?? labels.fa[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll("{" + k + "}", fmtValue(v));
  return s;
}

export function lang() { return currentLang; }

/** hasLabel reports whether key has a label in the current language. */
export function hasLabel(key) { return labels[currentLang][key] !== undefined; }

export function setLang(l) {
  currentLang = l === "en" ? "en" : "fa";
  localStorage.setItem("favad.lang", currentLang);
  document.documentElement.lang = currentLang;
  document.documentElement.dir = currentLang === "fa" ? "rtl" : "ltr";
}

// ---- formatting ---------------------------------------------------------
const locale = () => (currentLang === "fa" ? "fa-IR-u-ca-persian-nu-arabext" : "en-GB");

/** fmtNumber shows n with Persian digits in Persian. */
export function fmtNumber(n, opts) {
  if (n === null || n === undefined || n === "") return "–";
  return new Intl.NumberFormat(currentLang === "fa" ? "fa-IR" : "en-GB", opts).format(n);
}

export function fmtPercent(f) {
  if (f === null || f === undefined) return "–";
  return fmtNumber(f, { style: "percent", maximumFractionDigits: 1 });
}

/** fmtDate shows a time in Iran time, Solar Hijri in Persian. */
export function fmtDate(value, withTime = true) {
  if (!value) return "–";
  const d = value instanceof Date ? value : new Date(value);
  const opts = { timeZone: "Asia/Tehran", year: "numeric", month: "2-digit", day: "2-digit" };
  if (withTime) Object.assign(opts, { hour: "2-digit", minute: "2-digit", hour12: false });
  // Put together here: ICU's Persian pattern joins date and time with an ASCII
  // comma, and its English one puts the day first (08/12/2026 reads as August
  // to many): English dates are year-month-day, as the reports' are.
  const p = iranParts(d, locale(), opts);
  if (currentLang !== "fa") return `${p.year}-${p.month}-${p.day}` + (withTime ? ` ${p.hour}:${p.minute}` : "");
  return `${p.year}/${p.month}/${p.day}` + (withTime ? `، ${p.hour}:${p.minute}` : "");
}

/**
 * refocus puts the focus back after a redraw replaced the element that had
 * it (prev): on the element now holding its id, else the control with its
 * data-action in the redrawn holder of its data-id (a board row) or of its
 * nearest id (a screen's section), else that holder's first control, else
 * fallback. Keyboard and screen-reader users keep their place.
 */
export function refocus(prev, fallback) {
  if (!prev) return;
  if (prev.isConnected) {
    if (document.activeElement !== prev) prev.focus();
    return;
  }
  const holder = prev.closest("[data-id]");
  const areaId = prev.parentElement?.closest("[id]")?.id;
  const scope = holder
    ? document.querySelector(`[data-id="${CSS.escape(holder.dataset.id)}"]`) // gone: the fallback, not a neighbour's control
    : (areaId && document.getElementById(areaId)) || null;
  const action = prev.dataset?.action;
  const next = (prev.id && document.getElementById(prev.id)) ||
    (scope && action && scope.querySelector(`[data-action="${CSS.escape(action)}"]:not([disabled])`)) ||
    (scope && scope.querySelector("a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]")) ||
    fallback;
  next?.focus();
}

/**
 * iranParts is a time's parts (year, month, day, hour, minute, weekday… as
 * opts asks) in Iran time, written by the locale tag: the one reading of
 * Intl's parts that the console's dates, clocks and months are made from.
 */
export function iranParts(value, tag, opts) {
  const d = value instanceof Date ? value : new Date(value);
  return Object.fromEntries(new Intl.DateTimeFormat(tag, { ...opts, timeZone: "Asia/Tehran" }).formatToParts(d).map((x) => [x.type, x.value]));
}

/** fmtLongDate shows a time with its weekday and month name, so that a typed date can be checked by eye. */
export function fmtLongDate(value) {
  const parts = iranParts(value, locale(), { weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  // Put together here: ICU's Persian pattern joins with an ASCII comma.
  return currentLang === "fa"
    ? `${parts.weekday}، ${parts.day} ${parts.month} ${parts.year}، ساعت ${parts.hour}:${parts.minute}`
    : `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}`;
}

/** fmtDuration shows seconds as hours and minutes. */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined) return "–";
  const total = Math.round(sec / 60); // whole minutes first, so that 59.6 minutes is never "60 minutes"
  const h = Math.floor(total / 60), m = total % 60;
  return h > 0 ? t("core.hm", { h, m }) : t("core.m", { m });
}

function fmtValue(v) { return typeof v === "number" ? fmtNumber(v) : String(v); }

/** digitsToASCII folds Persian and Arabic-Indic digits. */
export function digitsToASCII(s) {
  return String(s).replace(/[۰-۹]/g, (d) => String(d.charCodeAt(0) - 0x06f0)).replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x0660));
}

/** normalizeText folds Arabic ي/ك to Persian, digits to ASCII, drops ZWNJ and diacritics, lower-cases. */
export function normalizeText(s) {
  return digitsToASCII(String(s || ""))
    .replace(/[يى]/g, "ی").replace(/ك/g, "ک").replace(/[ة]/g, "ه").replace(/[أإآ]/g, "ا")
    .replace(/[\u200c\u200d\u064b-\u065f\u0670]/g, " ").replace(/\s+/g, " ").trim().toLowerCase();
}

/** distanceM is the great-circle distance between two points, in metres. */
export function distanceM(a, b) {
  if (!a || !b) return null;
  const r = 6371000, rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad, dLng = (b.lng - a.lng) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return Math.round(2 * r * Math.asin(Math.sqrt(x)));
}

// ---- DOM ----------------------------------------------------------------
/**
 * h builds an element: h("button", {type: "button", onclick: fn}, "text", child).
 * Strings become text nodes, never HTML. Attributes starting with "on" are listeners.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** field is a labelled input: field("office", t("..."), inputElement, hint). */
export function field(id, label, input, hint) {
  input.id = input.id || id;
  const parts = [h("label", { for: input.id }, label), input];
  if (hint) {
    const hintEl = h("div", { class: "muted", id: input.id + "-hint" }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", { class: "field" }, parts);
}

let toastTimer;
/** toast shows a short message. */
export function toast(msg) {
  const el = document.getElementById("toast");
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

/** showError writes an API error under a form: the message and the fields at fault. */
export function showError(container, err) {
  container.replaceChildren();
  if (!err) return;
  container.append(h("div", { class: "error", role: "alert" }, errorText(err),
    (err.fields || []).map((f) => h("div", {}, `${fieldName(f.field)}: ${fieldErrorText(f)}`))));
}

/** fieldName is an API field's name as the console's forms call it (password, not "password"), where it knows one. */
export function fieldName(field) {
  const key = "field." + field;
  return currentLang === "fa" && hasLabel(key) ? t(key) : field;
}

/**
 * errorText is an error's message in the console's language: the server
 * words its problems in English, so a known code is said in Persian (its
 * English words stay for the English console), the rest as sent.
 */
export function errorText(err) {
  const key = "err." + (err?.code || "");
  if (currentLang === "fa" && err?.code && hasLabel(key)) return t(key);
  return err?.message || String(err);
}

/** fieldErrorText is one field's problem, by its code where the console knows it. */
export function fieldErrorText(f) {
  const key = "err.field." + (f?.code || "");
  if (currentLang === "fa" && f?.code && hasLabel(key)) return t(key);
  return f?.message || "";
}

// ---- API ----------------------------------------------------------------
let accessToken = null;
let refreshing = null;
/** session is the signed-in user (id, username, display_name, role, mode, office_code, agency_code) or null. */
export let session = null;

/** ApiError is a problem+json answer: status, code, message, fields. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || "HTTP " + status);
    this.status = status;
    this.problem = problem || {}; // the whole problem, with its extension members
    this.code = problem?.code || "";
    this.fields = problem?.errors || [];
  }
}

function deviceID() {
  let id = localStorage.getItem("favad.device");
  if (!id) {
    id = "console-" + crypto.randomUUID();
    localStorage.setItem("favad.device", id);
  }
  return id;
}

async function refresh() {
  if (!refreshing) {
    refreshing = fetch("/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json", "Favad-Console": "1" }, body: "{}", credentials: "same-origin" })
      .then(async (r) => {
        if (!r.ok) { accessToken = null; session = null; return false; }
        const body = await r.json();
        accessToken = body.access_token;
        session = body.user;
        return true;
      })
      .catch(() => false)
      .finally(() => { setTimeout(() => (refreshing = null), 0); });
  }
  return refreshing;
}

/** restoreSession signs in from the refresh cookie, if the browser holds one. */
export async function restoreSession() { return refresh(); }

/**
 * netFetch is fetch whose failure to reach the server (the browser's
 * "Failed to fetch", in its own language) is an ApiError the console words:
 * code "offline", nothing was sent or nothing came back.
 */
async function netFetch(path, init) {
  try {
    return await fetch(path, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, { code: "offline", detail: t("err.offline") });
  }
}

export async function signIn(username, password) {
  const r = await netFetch("/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ username, password, device_id: deviceID(), cookie: true }),
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  accessToken = body.access_token;
  session = body.user;
  return session;
}

export async function signOut(everywhere) {
  try { await api("POST", "/v1/auth/logout", everywhere ? { everywhere: true } : undefined); } catch (_) { /* already out */ }
  accessToken = null;
  session = null;
  feedStop();
  // What this tab kept of the work (a call half typed, with its caller; the board's filters) is not the next user's.
  try { sessionStorage.clear(); } catch (_) { /* nothing kept */ }
}

/** rawFetch sends a request with the access token, refreshing it once when it has expired. */
export async function rawFetch(method, path, body, headers = {}) {
  if (!accessToken) await refresh();
  const send = () => {
    const h = Object.assign({}, headers);
    if (accessToken) h.Authorization = "Bearer " + accessToken;
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body !== "string") {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return netFetch(path, { method, headers: h, body: payload, credentials: "same-origin" });
  };
  let r = await send();
  if (r.status === 401) {
    const p = await r.clone().json().catch(() => null);
    if (p?.code === "token_expired" || p?.action === "refresh") {
      if (await refresh()) r = await send();
    } else {
      accessToken = null;
      session = null;
      navigate("#/login");
    }
  }
  return r;
}

/** api sends a JSON request and returns the decoded answer, or throws ApiError. */
export async function api(method, path, body, headers) {
  const r = await rawFetch(method, path, body, headers);
  if (r.status === 204) return null;
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** blobURL fetches an authorised file (a photo) and returns an object URL for <img>. */
export async function blobURL(path) {
  const r = await rawFetch("GET", path);
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  return URL.createObjectURL(await r.blob());
}

/** download fetches an authorised file (an export) and saves it as filename. */
export async function download(path, filename) {
  const url = await blobURL(path);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// ---- router -------------------------------------------------------------
const routes = [];

/**
 * route registers a screen: route("#/complaint/:id", {roles: ["dispatcher"], nav: "board", render: async (main, params) => {...}}).
 * nav, if set, is the label key of the screen's link in the top bar.
 */
export function route(pattern, screen) {
  const names = [];
  const re = new RegExp("^" + pattern.replace(/:([a-z_]+)/g, (_, n) => { names.push(n); return "([^/]+)"; }) + "$");
  routes.push({ pattern, re, names, ...screen });
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

let cleanup = [];
/** onLeave runs fn when the screen is left (to close a feed subscription, a timer). */
export function onLeave(fn) { cleanup.push(fn); }

export async function render() {
  for (const fn of cleanup.splice(0)) { try { fn(); } catch (_) { /* ignore */ } }
  const hash = location.hash || "#/";
  const main = document.getElementById("main");
  if (!session && hash !== "#/login") {
    if (!(await refresh())) { location.hash = "#/login"; return; }
  }
  let target = routes.find((r) => r.re.test(hash));
  if (!target || (target.roles && !target.roles.includes(session?.role))) {
    // Not a screen of this role: say so, rather than bounce between routes.
    target = { pattern: hash, re: /^/, names: [], title: "core.notFound",
      render: (el) => el.append(h("div", { class: "card" }, h("h1", {}, t("core.notFound")), h("a", { href: "#/" }, t("core.home")))) };
    if (hash === "#/") target.render = (el) => el.append(h("div", { class: "card" }, h("h1", {}, t("core.noScreen"))));
  }
  const params = {};
  const m = target.re.exec(hash);
  if (m) target.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
  drawChrome(target);
  main.replaceChildren();
  document.title = t(target.title || "core.title") + " — " + t("core.brand");
  try {
    await target.render(main, params);
  } catch (err) {
    main.append(h("div", { class: "card error", role: "alert" }, err.message || String(err)));
  }
  // A screen that focused its first field (intake, sign-in) keeps it.
  if (!main.contains(document.activeElement) || document.activeElement === main) main.focus();
}

/** hasRoute reports whether a screen is registered for hash. */
export function hasRoute(hash) { return routes.some((r) => r.re.test(hash)); }

function drawChrome(current) {
  const top = document.getElementById("top");
  top.hidden = !session;
  if (!session) return;
  document.getElementById("brand").textContent = t("core.brand");
  const nav = document.getElementById("nav");
  nav.replaceChildren(...routes.filter((r) => r.nav && (!r.roles || r.roles.includes(session.role)))
    .map((r) => h("a", { href: r.pattern, "aria-current": r === current ? "page" : null }, t(r.nav))));
  document.getElementById("who").textContent = session.display_name + " (" + t("role." + session.role) + ")";
  const so = document.getElementById("sign-out");
  so.textContent = t("core.signOut");
  so.onclick = () => askSignOut(so);
  const fs = document.getElementById("feed-state");
  if (fs) {
    fs.textContent = t("feed." + feedState); // in the language just chosen
    fs.hidden = !feedCtl; // screens without the live feed (reports, office, admin) have no state to tell
  }
  const ls = document.getElementById("lang-switch");
  ls.textContent = currentLang === "fa" ? "English" : "فارسی";
  ls.onclick = () => { setLang(currentLang === "fa" ? "en" : "fa"); render(); };
}

/**
 * askSignOut asks where to sign out — this browser, every device (a phone
 * lost), or not at all — and does it.
 */
function askSignOut(opener) {
  const dlg = h("dialog", { class: "dialog", "aria-labelledby": "sign-out-title" },
    h("h2", { id: "sign-out-title" }, t("core.signOut?")),
    h("p", {}, t("core.signOutHelp")),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "sign-out-here", onclick: () => done(false) }, t("core.signOutHere")),
      h("button", { type: "button", id: "sign-out-everywhere", onclick: () => done(true) }, t("core.signOutEverywhere")),
      h("button", { type: "button", id: "sign-out-cancel", class: "secondary", onclick: () => dlg.close() }, t("core.cancel"))));
  async function done(everywhere) {
    dlg.close();
    await signOut(everywhere);
    navigate("#/login");
  }
  dlg.addEventListener("close", () => { dlg.remove(); if (session) opener.focus(); });
  document.body.append(dlg);
  dlg.showModal();
  dlg.querySelector("#sign-out-here").focus();
}

// ---- the live feed --------------------------------------------------------
// One connection (fetch with a streamed body, since EventSource cannot send
// the token); it reconnects with Last-Event-ID, so nothing is missed.
let feedCtl = null;
let feedLast = 0;
let feedHistory = ""; // the store's history id: a resume in another (a restored store) starts over
const feedListeners = new Set();
let feedState = "down";

function setFeedState(s) {
  feedState = s;
  const el = document.getElementById("feed-state");
  if (el) {
    el.className = "feed-state " + s;
    el.textContent = t("feed." + s);
    el.hidden = !feedCtl; // only a console that holds the feed says how it is
  }
  for (const l of feedListeners) l.onState?.(s);
}

/**
 * eventComplaints lists every complaint a feed event concerns: its
 * complaint_id, and each complaint a visit covers or a finding is about
 * (a visit to an office may cover several).
 */
export function eventComplaints(ev) {
  return [...new Set([ev.complaint_id, ...(ev.visit?.complaint_ids || []), ...(ev.finding?.complaint_ids || [])].filter(Boolean))];
}

/** feedSubscribe calls onEvent for each feed event, and onState("live"|"catching"|"down"); returns an unsubscribe function. */
export function feedSubscribe(onEvent, onState) {
  const l = { onEvent, onState };
  feedListeners.add(l);
  onState?.(feedState);
  if (!feedCtl) feedStart();
  return () => { feedListeners.delete(l); };
}

export function feedStop() {
  feedCtl?.abort();
  feedCtl = null;
  setFeedState("down");
}

async function feedStart() {
  const ctl = new AbortController();
  feedCtl = ctl;
  let delay = 1000;
  while (feedCtl === ctl && session) {
    try {
      if (!accessToken) await refresh();
      const headers = { Authorization: "Bearer " + accessToken };
      if (feedLast) headers["Last-Event-ID"] = String(feedLast);
      setFeedState(feedLast ? "catching" : "down");
      const url = feedLast && feedHistory ? "/v1/feed?history=" + encodeURIComponent(feedHistory) : "/v1/feed";
      const r = await fetch(url, { headers, signal: ctl.signal });
      if (r.status === 401) { await refresh(); continue; }
      if (!r.ok) throw new Error("feed " + r.status);
      feedHistory = r.headers.get("Favad-History") || "";
      delay = 1000;
      await readStream(r.body, ctl);
    } catch (err) {
      if (ctl.signal.aborted) break;
    }
    setFeedState("down");
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

async function readStream(body, ctl) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let liveTimer = setTimeout(() => setFeedState("live"), 300);
  try {
    await readEvents(reader, ctl, () => {
      clearTimeout(liveTimer);
      liveTimer = setTimeout(() => setFeedState("live"), 300);
    });
  } finally {
    clearTimeout(liveTimer); // a stream that ended is not live
  }
}

async function readEvents(reader, ctl, alive) {
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done || ctl.signal.aborted) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message", data = "", id = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
        else if (line.startsWith("id: ")) id = line.slice(4);
      }
      if (event === "reset") { feedLast = JSON.parse(data).head || 0; for (const l of feedListeners) l.onEvent({ type: "reset" }); continue; }
      if (event === "dropped") { feedLast = JSON.parse(data).resume_after || feedLast; return; }
      if (!data) continue;
      const ev = JSON.parse(data);
      if (id) feedLast = Number(id);
      alive();
      for (const l of feedListeners) l.onEvent(ev);
    }
  }
}

/** feedStatus is the feed's state: "live", "catching" or "down". */
export function feedStatus() { return feedState; }

// ---- labels of the core -------------------------------------------------
addLabels({
  fa: {
    "core.brand": "فواد ۱۲۸", "core.title": "کنسول", "core.signOut": "خروج",
    "core.signOut?": "خروج از حساب", "core.signOutHelp": "فقط از این مرورگر خارج می‌شوید یا از همه دستگاه‌ها (اگر گوشی یا رایانه‌ای گم شده است)؟",
    "core.signOutHere": "خروج از این مرورگر", "core.signOutEverywhere": "خروج از همه دستگاه‌ها", "core.cancel": "انصراف",
    "err.offline": "سرور در دسترس نیست؛ اتصال را بررسی کنید و دوباره بکوشید.",
    "err.invalid": "برخی از خانه‌ها درست پر نشده‌اند.", "err.not_found": "پیدا نشد.",
    "err.conflict": "هم‌زمان با تغییری دیگر بود؛ صفحه را تازه کنید و دوباره بکوشید.",
    "err.illegal_transition": "در وضعیت کنونی شکایت این کار شدنی نیست.", "err.forbidden": "این کار برای نقش شما نیست.",
    "err.rate_limited": "تلاش‌ها بیش از اندازه بود؛ کمی بعد دوباره بکوشید.", "err.busy": "سرور پرکار است؛ کمی بعد دوباره بکوشید.",
    "err.storage_full": "دیسک سرور پر است و چیزی ذخیره نشد؛ به راهبر سامانه خبر دهید.",
    "err.blob_store_unavailable": "محل نگهداری مدارک پاسخ نمی‌دهد؛ کمی بعد دوباره بکوشید.",
    "err.internal": "خطایی در سرور رخ داد و در گزارش سرور ثبت شد.", "err.review_pending": "بازبینی دیگری از این شکایت باز است؛ نخست آن را رسیدگی کنید.",
    "err.too_large": "بیش از اندازه مجاز است.", "err.unsupported_media_type": "این نوع پرونده پذیرفته نیست.",
    "err.field.required": "لازم است.", "err.field.too_long": "بیش از اندازه بلند است.", "err.field.too_short": "بیش از اندازه کوتاه است.",
    "err.field.invalid": "درست نیست.", "err.field.taken": "پیش‌تر گرفته شده است؛ دیگری برگزینید.",
    "err.field.out_of_range": "بیرون از بازه مجاز است.", "err.field.not_an_integer": "باید عددی درست باشد.",
    "err.field.wrong_type": "نوعش درست نیست.", "err.field.too_many": "بیش از اندازه است.", "err.field.duplicate": "تکراری است.",
    "err.field.before_from": "باید پس از تاریخ آغاز باشد.", "err.field.range_too_long": "یک گزارش حداکثر دو سال را در بر می‌گیرد.",
    "err.field.in_future": "نمی‌تواند در آینده باشد.", "err.field.before_opens": "باید پس از ساعت شروع باشد.",
    "err.field.unknown": "شناخته نیست.", "err.field.reserved": "نام رزروشده است.",
    "err.field.missing_column": "این ستون در سطر سرستون‌ها نیست.", "err.field.extra_column": "این خانه ستونی در سرستون‌ها ندارد.", "err.field.malformed": "ساختار CSV خراب است (مثلاً نقل‌قولی بسته نشده).",
    "err.field.mismatch": "با سطر دیگری از همین فایل نمی‌خواند.", "err.field.too_many_rows": "سطرها بیش از اندازه مجاز یک بار ورود است.",
    "err.field.control_character": "نویسه کنترلی دارد.", "err.field.invalid_utf8": "متن UTF-8 درست نیست.",
    "err.account_disabled": "این حساب غیرفعال شده است؛ با مدیر سامانه تماس بگیرید.",
    "field.password": "گذرواژه", "field.username": "نام کاربری", "field.display_name": "نام نمایشی", "field.role": "نقش",
    "field.office_code": "شعبه", "field.agency_code": "دستگاه", "field.mode": "شیوه کار", "field.region": "حوزه",
    "field.region.province": "استان", "field.region.cities": "شهرها", "field.from": "از تاریخ", "field.to": "تا تاریخ",
    "field.province": "استان", "field.office": "شعبه", "field.agency": "دستگاه", "field.category": "موضوع",
    "field.action": "اقدام", "field.text": "شرح", "field.note": "یادداشت", "field.reason": "دلیل", "field.outcome": "نتیجه",
    "field.statement": "شرح", "field.inspector_id": "بازرس", "field.description": "شرح شکایت", "field.call_time": "زمان تماس",
    "field.caller.phone": "تلفن تماس‌گیرنده", "field.caller.name": "نام تماس‌گیرنده", "field.call_id": "شناسه تماس", "field.priority": "اولویت",
    "core.hm": "{h} ساعت و {m} دقیقه", "core.m": "{m} دقیقه",
    "core.notFound": "این صفحه برای شما نیست.", "core.home": "بازگشت به خانه", "core.noScreen": "صفحه‌ای برای نقش شما در کنسول نیست.",
    "feed.live": "زنده", "feed.catching": "در حال به‌روزرسانی…", "feed.down": "قطع — تلاش دوباره…",
    "role.dispatcher": "مرکز پیام", "role.inspector": "بازرس", "role.supervisor": "ناظر", "role.admin": "مدیر سامانه", "role.office": "رابط دستگاه",
    "status.received": "دریافت‌شده", "status.assigned": "ارجاع به بازرس", "status.in_progress": "در حال رسیدگی", "status.resolved": "رسیدگی‌شده",
    "status.not_substantiated": "تأییدنشده", "status.referred_to_workplace": "ارجاع به دستگاه", "status.referral_answered": "پاسخ دستگاه رسیده",
    "status.needs_review": "نیازمند بازبینی", "status.withdrawn": "بسته‌شده",
    "category.absent_employee": "غیبت کارمند", "category.non_work_activity": "کار غیراداری", "category.client_crowding": "ازدحام مراجعان", "category.other": "سایر",
    "priority.urgent": "فوری", "priority.high": "زیاد", "priority.normal": "عادی", "priority.low": "کم",
    "outcome.substantiated": "تأیید شد", "outcome.not_substantiated": "تأیید نشد", "outcome.resolved_on_spot": "رفع در محل", "outcome.referred_for_discipline": "ارجاع انضباطی",
    "mode.field": "حضوری", "mode.phone": "تلفنی",
  },
  en: {
    "core.brand": "FAVAD 128", "core.title": "Console", "core.signOut": "Sign out",
    "core.signOut?": "Sign out", "core.signOutHelp": "Sign out of this browser only, or of every device (a lost phone or computer)?",
    "core.signOutHere": "This browser", "core.signOutEverywhere": "Every device", "core.cancel": "Cancel",
    "err.offline": "The server cannot be reached; check the connection and try again.",
    "core.hm": "{h} h {m} min", "core.m": "{m} min",
    "core.notFound": "This page is not for you.", "core.home": "Back home", "core.noScreen": "The console has no screen for your role.",
    "feed.live": "Live", "feed.catching": "Catching up…", "feed.down": "Disconnected — retrying…",
    "role.dispatcher": "Dispatcher", "role.inspector": "Inspector", "role.supervisor": "Supervisor", "role.admin": "Admin", "role.office": "Office liaison",
    "status.received": "Received", "status.assigned": "Assigned", "status.in_progress": "In progress", "status.resolved": "Resolved",
    "status.not_substantiated": "Not substantiated", "status.referred_to_workplace": "Referred to office", "status.referral_answered": "Office answered",
    "status.needs_review": "Needs review", "status.withdrawn": "Withdrawn",
    "category.absent_employee": "Absent employee", "category.non_work_activity": "Non-work activity", "category.client_crowding": "Client crowding", "category.other": "Other",
    "priority.urgent": "Urgent", "priority.high": "High", "priority.normal": "Normal", "priority.low": "Low",
    "outcome.substantiated": "Substantiated", "outcome.not_substantiated": "Not substantiated", "outcome.resolved_on_spot": "Resolved on the spot", "outcome.referred_for_discipline": "Referred for discipline",
    "mode.field": "Field", "mode.phone": "Phone",
  },
});
setLang(currentLang);
