// The board: complaints by status with filters, due times and overdue rows,
// the routing actions, and live updates from the feed (a row is re-read when
// an event names it; the list is reloaded when the feed was reset or came
// back without being able to resume).
import { addLabels, api, errorText, eventComplaints, feedStatus, feedSubscribe, fmtDate, h, onLeave, refocus, route, session, t } from "../core.js";
import {
  CATEGORIES, CLOSED_STATUSES, OPEN_STATUSES, activeDue, agencyName, sep, dueState, forgetPeople, forgetReference, localDigits, people, personName, reference,
  routingButtons, statusBadge,
} from "./routing.js";

addLabels({
  fa: {
    "board.nav": "کارتابل", "board.title": "کارتابل شکایت‌ها", "board.newCall": "ثبت تماس جدید",
    "board.tab.open": "باز", "board.tab.received": "دریافت‌شده", "board.tab.working": "نزد بازرس", "board.tab.referred": "نزد دستگاه",
    "board.tab.decide": "منتظر تصمیم", "board.tab.overdue": "معوق", "board.tab.closed": "بسته", "board.tab.all": "همه",
    "board.tabs": "وضعیت", "board.agency": "دستگاه", "board.office": "اداره", "board.category": "موضوع", "board.q": "جست‌وجو", "board.qHint": "شرح، اداره، شماره، کد رهگیری یا تلفن تماس‌گیرنده",
    "board.any": "همه", "board.clear": "پاک کردن فیلترها", "board.more": "بیشتر", "board.count": "{n} شکایت",
    "board.empty": "شکایتی با این فیلترها نیست.",
    "board.col.number": "شماره", "board.col.status": "وضعیت", "board.col.subject": "موضوع و اولویت", "board.col.office": "اداره",
    "board.col.call": "زمان تماس", "board.col.due": "مهلت", "board.col.inspector": "رسیدگی", "board.col.actions": "اقدام",
    "board.feed.live": "به‌روزرسانی زنده", "board.feed.down": "قطع — پس از اتصال دوباره، تغییرات جاافتاده گرفته می‌شود…",
    "board.feed.catching": "اتصال برقرار شد — در حال گرفتن تغییرات جاافتاده…", "board.reloaded": "فهرست دوباره بارگذاری شد.",
    "board.office.referred": "نزد دستگاه", "board.office.answered": "منتظر تصمیم مرکز پیام", "board.unassigned": "ارجاع‌نشده", "board.updated": "شکایت {n} به‌روز شد",
  },
  en: {
    "board.nav": "Board", "board.title": "Complaints board", "board.newCall": "Record a new call",
    "board.tab.open": "Open", "board.tab.received": "Received", "board.tab.working": "With inspectors", "board.tab.referred": "With the office",
    "board.tab.decide": "Awaiting decision", "board.tab.overdue": "Overdue", "board.tab.closed": "Closed", "board.tab.all": "All",
    "board.tabs": "Status", "board.agency": "Agency", "board.office": "Office", "board.category": "Category", "board.q": "Search", "board.qHint": "description, office, number, tracking code or caller's phone",
    "board.any": "Any", "board.clear": "Clear filters", "board.more": "More", "board.count": "{n} complaints",
    "board.empty": "No complaint matches these filters.",
    "board.col.number": "No.", "board.col.status": "Status", "board.col.subject": "Category and priority", "board.col.office": "Office",
    "board.col.call": "Call time", "board.col.due": "Due", "board.col.inspector": "Handled by", "board.col.actions": "Actions",
    "board.feed.live": "Live updates", "board.feed.down": "Disconnected — will catch up on reconnect…",
    "board.feed.catching": "Reconnected — catching up…", "board.reloaded": "The list was reloaded.",
    "board.office.referred": "with the office", "board.office.answered": "dispatch to decide", "board.unassigned": "not routed", "board.updated": "Complaint {n} updated",
  },
});

/** The tabs: each a set of statuses, or the overdue filter. */
const TABS = {
  open: { status: OPEN_STATUSES },
  received: { status: ["received"] },
  working: { status: ["assigned", "in_progress"] },
  referred: { status: ["referred_to_workplace"] },
  decide: { status: ["referral_answered", "needs_review"] },
  overdue: { status: OPEN_STATUSES, overdue: true },
  closed: { status: CLOSED_STATUSES },
  all: { status: [] },
};

const STORE_KEY = "favad.board";
function loadFilters() {
  try {
    const f = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
    return { tab: TABS[f.tab] ? f.tab : "open", agency: f.agency || "", office: f.office || "", category: f.category || "", q: f.q || "" };
  } catch (_) {
    return { tab: "open", agency: "", office: "", category: "", q: "" };
  }
}

route("#/board", {
  title: "board.title", nav: "board.nav", roles: ["dispatcher", "supervisor", "admin"],
  async render(main) {
    const [ref, who] = await Promise.all([reference(), people().catch(() => new Map())]);
    new Board(main, ref, who).start();
  },
});

class Board {
  constructor(main, ref, who) {
    this.main = main;
    this.ref = ref;
    this.who = who;
    this.f = loadFilters();
    this.rows = new Map(); // complaint id → {c, tr}
    this.next = "";
    this.loading = 0;
    this.pending = new Set();
    this.wasDown = feedStatus() !== "live";
    this.loaded = false;
    this.sought = new Set();
    this.learnTimer = null;
    this.learnedAt = Date.now(); // the names were just loaded
  }

  start() {
    const m = this.main;
    this.feedEl = h("span", { class: "board-feed", role: "status", "aria-live": "polite" });
    this.countEl = h("span", { class: "muted", "aria-live": "polite" });
    this.tbody = h("tbody", {});
    this.empty = h("p", { class: "muted", hidden: true }, t("board.empty"));
    this.moreBtn = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.load(true) }, t("board.more"));
    this.errors = h("div", { "aria-live": "assertive" });
    const header = h("div", { class: "board-head" },
      h("h1", {}, t("board.title")), this.feedEl, h("span", { class: "spacer" }),
      session.role === "dispatcher" ? h("a", { class: "button", href: "#/intake", id: "board-new-call" }, t("board.newCall")) : null);
    m.append(header, this.drawTabs(), this.drawFilters(), this.errors,
      h("div", { class: "board-meta" }, this.countEl),
      h("table", { class: "board-table", id: "board-table" },
        h("caption", { class: "sr-only" }, t("board.title")),
        h("thead", {}, h("tr", {}, ["number", "status", "subject", "office", "call", "due", "inspector", "actions"]
          .map((k) => h("th", { scope: "col" }, t("board.col." + k))))),
        this.tbody),
      this.empty, h("div", { class: "actions" }, this.moreBtn));
    this.load(false);
    const unsub = feedSubscribe((ev) => this.onEvent(ev), (s) => this.onState(s));
    const tick = setInterval(() => this.tick(), 30000);
    onLeave(() => { unsub(); clearInterval(tick); clearTimeout(this.flushTimer); clearTimeout(this.learnTimer); });
  }

  drawTabs() {
    const bar = h("div", { class: "tabs", role: "group", "aria-label": t("board.tabs") });
    for (const k of Object.keys(TABS)) {
      bar.append(h("button", { type: "button", class: "tab", "aria-pressed": String(this.f.tab === k), dataset: { tab: k }, onclick: () => {
        this.f.tab = k;
        for (const b of bar.children) b.setAttribute("aria-pressed", String(b.dataset.tab === k));
        this.changed();
      } }, t("board.tab." + k)));
    }
    return bar;
  }

  drawFilters() {
    const agencies = [...this.ref.agencies.values()].sort((a, b) => a.name_fa.localeCompare(b.name_fa, "fa"));
    const agency = h("select", { id: "board-agency" }, h("option", { value: "" }, t("board.any")),
      agencies.map((a) => h("option", { value: a.code, selected: a.code === this.f.agency }, agencyName(this.ref, a.code))));
    const office = h("select", { id: "board-office" });
    const fillOffices = () => {
      const list = this.ref.list.filter((o) => !agency.value || o.agency_code === agency.value).sort((a, b) => a.name_fa.localeCompare(b.name_fa, "fa"));
      if (!list.some((o) => o.code === this.f.office)) this.f.office = "";
      office.replaceChildren(h("option", { value: "" }, t("board.any")),
        ...list.map((o) => h("option", { value: o.code, selected: o.code === this.f.office }, o.name_fa + " — " + o.city)));
    };
    fillOffices();
    const category = h("select", { id: "board-category" }, h("option", { value: "" }, t("board.any")),
      CATEGORIES.map((c) => h("option", { value: c, selected: c === this.f.category }, t("category." + c))));
    const q = h("input", { id: "board-q", type: "search", value: this.f.q, autocomplete: "off", placeholder: t("board.qHint") });
    agency.addEventListener("change", () => { this.f.agency = agency.value; fillOffices(); this.changed(); });
    office.addEventListener("change", () => { this.f.office = office.value; this.changed(); });
    category.addEventListener("change", () => { this.f.category = category.value; this.changed(); });
    let qTimer;
    q.addEventListener("input", () => { clearTimeout(qTimer); qTimer = setTimeout(() => { this.f.q = q.value.trim(); this.changed(); }, 300); });
    const clear = h("button", { type: "button", class: "secondary", onclick: () => {
      Object.assign(this.f, { agency: "", office: "", category: "", q: "" });
      agency.value = ""; category.value = ""; q.value = ""; fillOffices(); this.changed();
    } }, t("board.clear"));
    const fld = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
    return h("div", { class: "row board-filters" }, fld("board-agency", t("board.agency"), agency), fld("board-office", t("board.office"), office),
      fld("board-category", t("board.category"), category), fld("board-q", t("board.q"), q), h("div", { class: "field clear" }, clear));
  }

  changed() {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(this.f));
    this.load(false);
  }

  query(cursor) {
    const tab = TABS[this.f.tab];
    const p = new URLSearchParams();
    if (tab.status.length) p.set("status", tab.status.join(","));
    if (tab.overdue) p.set("overdue", "true");
    for (const k of ["agency", "office", "category", "q"]) if (this.f[k]) p.set(k, this.f[k]);
    p.set("limit", "50");
    if (cursor) p.set("cursor", cursor);
    return "/v1/complaints?" + p;
  }

  /** load reads the first page (more=false, replacing the rows) or the next one. */
  async load(more) {
    const seq = ++this.loading;
    this.errors.replaceChildren();
    try {
      const page = await api("GET", this.query(more ? this.next : ""));
      if (seq !== this.loading) return;
      if (!more) { this.rows.clear(); this.tbody.replaceChildren(); }
      for (const c of page.items) this.put(c, false);
      this.next = page.next_cursor || "";
      this.loaded = true;
      this.meta();
    } catch (err) {
      if (seq === this.loading) this.errors.append(h("div", { class: "error", role: "alert" }, errorText(err)));
    }
  }

  meta() {
    this.countEl.textContent = t("board.count", { n: this.rows.size });
    this.moreBtn.hidden = !this.next;
    this.empty.hidden = this.rows.size > 0;
  }

  /** matches says whether c belongs in the list as filtered (the free-text search is left to the server). */
  matches(c) {
    const tab = TABS[this.f.tab];
    if (tab.status.length && !tab.status.includes(c.status)) return false;
    if (tab.overdue && !dueState(c).overdue) return false;
    if (this.f.agency && c.agency_code !== this.f.agency) return false;
    if (this.f.office && c.office_code !== this.f.office) return false;
    if (this.f.category && c.category !== this.f.category) return false;
    return true;
  }

  /**
   * missing notes a person or office a row names that the board's lists do
   * not hold (made since they were loaded): the lists are loaded again, at
   * most every 10 s, and the rows redrawn. Each is looked for once.
   */
  missing(key) {
    if (this.sought.has(key)) return;
    this.sought.add(key);
    if (this.learnTimer) return;
    this.learnTimer = setTimeout(() => {
      this.learnTimer = null;
      this.learnedAt = Date.now();
      forgetPeople();
      forgetReference();
      Promise.all([reference(), people()]).then(([ref, who]) => {
        this.ref = ref;
        this.who = who;
        for (const { c } of [...this.rows.values()]) this.put(c, false);
      }).catch(() => {});
    }, Math.max(0, this.learnedAt + 10000 - Date.now()));
  }

  /** put draws c's row, replacing the old one, or inserting it in its place (newest first). */
  put(c, flash) {
    const tr = this.drawRow(c);
    const old = this.rows.get(c.id);
    const focused = old?.tr.contains(document.activeElement) ? document.activeElement : null;
    if (old) {
      old.tr.replaceWith(tr);
      if (focused) refocus(focused, tr.querySelector("a"));
    } else {
      const after = [...this.tbody.children].find((r) => r.dataset.id < c.id);
      if (after) this.tbody.insertBefore(tr, after);
      else this.tbody.append(tr);
    }
    this.rows.set(c.id, { c, tr });
    if (flash) {
      tr.classList.add("flash");
      setTimeout(() => tr.classList.remove("flash"), 2500);
    }
  }

  drawRow(c) {
    const office = this.ref.offices.get(c.office_code);
    const due = dueState(c);
    const a = c.assignment;
    let handler;
    if (c.status === "referred_to_workplace") handler = t("board.office.referred");
    else if (c.status === "referral_answered") handler = h("strong", {}, t("board.office.answered")); // dispatch's to decide now
    else if (a) handler = [personName(this.who, a.inspector_id), " ", h("span", { class: "badge" }, t("mode." + a.mode))];
    else handler = h("span", { class: "muted" }, t("board.unassigned"));
    if (a && !this.who.has(a.inspector_id)) this.missing("person:" + a.inspector_id);
    if (!office) this.missing("office:" + c.office_code);
    const cell = (key, ...children) => h("td", { dataset: { label: t("board.col." + key) } }, ...children);
    const tr = h("tr", { class: due.overdue ? "overdue" : "", dataset: { id: c.id, status: c.status } },
      cell("number", h("a", { href: "#/complaint/" + c.id, class: "num" }, "#" + localDigits(c.number))),
      cell("status", statusBadge(c.status)),
      cell("subject", t("category." + c.category), h("br"), h("span", { class: "badge prio-" + c.priority }, t("priority." + c.priority))),
      cell("office", office?.name_fa || c.office_code, h("br"), h("span", { class: "muted" }, agencyName(this.ref, c.agency_code), office ? sep() + office.city : "")),
      cell("call", fmtDate(c.call_time)),
      cell("due", h("span", { class: "due-at" }, fmtDate(due.open ? activeDue(c) : c.due_at)), h("br"),
        due.open ? h("span", { class: "due-left " + (due.overdue ? "over" : "") }, due.text) : null),
      cell("inspector", handler),
      cell("actions", h("div", { class: "row-actions" }, routingButtons(c, office, (res) => this.put(res, true)))));
    return tr;
  }

  /** tick redraws the time left on each row, and the overdue rows. */
  tick() {
    for (const { c, tr } of this.rows.values()) {
      const due = dueState(c);
      tr.classList.toggle("overdue", due.overdue);
      const left = tr.querySelector(".due-left");
      if (left) { left.textContent = due.text; left.classList.toggle("over", due.overdue); }
    }
  }

  onState(s) {
    this.feedEl.className = "board-feed " + s;
    this.feedEl.textContent = t("board.feed." + s);
    if (s === "down") this.wasDown = true;
    else if (s === "catching") this.wasDown = false; // resumed from the last event: nothing is missed
    else if (s === "live" && this.wasDown) {
      this.wasDown = false;
      if (this.loaded) this.load(false); // a fresh stream starts at the present: re-read what may have changed meanwhile
    }
  }

  onEvent(ev) {
    if (ev.type === "reset") { this.load(false); return; }
    // A visit or finding covers every complaint it names, not only the
    // event's first: each of their rows is re-read.
    const ids = eventComplaints(ev);
    if (ids.length === 0) return;
    for (const id of ids) this.pending.add(id);
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.flush(), 200);
  }

  /** flush re-reads the complaints events named, and updates, inserts or removes their rows. */
  async flush() {
    const ids = [...this.pending];
    this.pending.clear();
    for (const id of ids) {
      let c;
      try {
        c = await api("GET", "/v1/complaints/" + id);
      } catch (_) {
        continue;
      }
      delete c.history;
      const have = this.rows.has(id);
      if (this.matches(c)) {
        // A complaint older than the last row loaded comes with "more"; the
        // free-text search is the server's, so only rows already shown follow it.
        const last = this.tbody.lastElementChild?.dataset.id;
        if (have || (!this.f.q && (!this.next || !last || c.id > last))) this.put(c, true);
      } else if (have) {
        const { tr } = this.rows.get(id);
        // The focus goes to the next row (or the one before), not to the page's start.
        const near = tr.contains(document.activeElement) ? (tr.nextElementSibling || tr.previousElementSibling) : null;
        tr.remove();
        this.rows.delete(id);
        near?.querySelector("a")?.focus();
      }
    }
    this.meta();
  }
}
