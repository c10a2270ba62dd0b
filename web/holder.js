// The cardholder's home: balance, card status, recent records, report loss, passwords.
"use strict";
(async () => {
  if (!await YKT.start(["holder"])) return;
  let home = null;

  function render() {
    if (!home) return;
    const p = home.person;
    document.getElementById("balance").textContent = home.balance;
    const card = (home.cards || []).find(c => c.medium === "card" && c.status !== "cancelled") ||
                 (home.cards || [])[0];
    const st = document.getElementById("card-status");
    st.replaceChildren(YKT.badge(card ? card.status : "—"));
    document.getElementById("card-no").textContent = card ? card.card_no : "—";
    document.getElementById("valid-until").textContent = card ? card.valid_until : "—";
    document.getElementById("person").textContent =
      [p.name, p.person_no, p.department, YKT.t("id_number") + " " + p.id_number,
       YKT.t("phone") + " " + p.phone].join(" · ");
    YKT.table(document.getElementById("records"), home.records, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "kind", label: "what", fmt: v => YKT.tv("k_", v) },
      { key: "amount", label: "amount", num: true },
      { key: "memo", label: "memo" }]);
  }

  async function load() {
    const r = await YKT.api("GET", "/api/holder/home");
    if (r.status === 200) { home = r.data; render(); }
  }
  document.addEventListener("ykt-lang", render);
  await load();

  // ---- notices: low balance, automatic top-up, the monthly statement (R-W7, R-W8) ----
  let notices = [];
  function renderNotices() {
    YKT.table(document.getElementById("notices"), notices, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "kind", label: "what", fmt: v => YKT.tv("n_", v) },
      { key: "message", label: "memo" }]);
  }
  async function loadNotices() {
    const r = await YKT.api("GET", "/api/holder/notices");
    notices = r.status === 200 ? r.data : [];
    renderNotices();
  }
  document.addEventListener("ykt-lang", renderNotices);
  // Not awaited: the forms below are wired at once, whatever the notices' request does.
  loadNotices().catch(() => {});

  document.getElementById("loss-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const pw = document.getElementById("loss-password");
    const r = await YKT.api("POST", "/api/holder/report-loss", { password: pw.value });
    pw.value = "";
    const msg = document.getElementById("loss-msg");
    if (r.status === 200) { YKT.message(msg, YKT.t("lost_done"), true); await load(); }
    else YKT.message(msg, YKT.errorText(r), false);
  });

  document.getElementById("pw-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const msg = document.getElementById("pw-msg");
    const f = id => document.getElementById(id);
    if (f("pw-new").value !== f("pw-new2").value) {
      YKT.message(msg, YKT.t("pw_mismatch"), false);
      return;
    }
    const r = await YKT.api("POST", "/api/holder/password",
      { which: f("pw-which").value, old: f("pw-old").value, new: f("pw-new").value });
    ["pw-old", "pw-new", "pw-new2"].forEach(id => { f(id).value = ""; });
    if (r.status === 200) YKT.message(msg, YKT.t("pw_done"), true);
    else YKT.message(msg, YKT.errorText(r), false);
  });

  // ---- spending chart, records with filters ----
  async function loadChart() {
    const r = await YKT.api("GET", "/api/holder/spending?months=6");
    if (r.status === 200) YKT.chart(document.getElementById("chart"), r.data);
  }
  let records = [];
  function renderRecords() {
    YKT.table(document.getElementById("rec-table"), records, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "category", label: "category", fmt: v => YKT.tv("cat_", v) },
      { key: "merchant_name", label: "merchant" },
      { key: "charged", label: "amount", num: true },
      { key: "refunded", label: "refunded", num: true }]);
    const total = records.reduce((s, x) => s + x.spent_fen, 0);
    document.getElementById("rec-total").textContent =
      YKT.t("total") + ": " + YKT.yuan(total) + " (" + records.length + ")";
  }
  async function loadRecords() {
    const q = new URLSearchParams();
    [["from", "rec-from"], ["to", "rec-to"], ["category", "rec-cat"]].forEach(([k, id]) => {
      const x = YKT.v(id); if (x) q.set(k, x); });
    const r = await YKT.api("GET", "/api/holder/records?" + q);
    records = r.status === 200 ? r.data : [];
    renderRecords();
  }
  document.getElementById("rec-form").addEventListener("submit", ev => {
    ev.preventDefault(); loadRecords(); });

  // ---- limit and automatic top-up ----
  let settings = null;
  function renderSettings() {
    if (!settings) return;
    const d = settings, body = YKT.el("table"), tb = YKT.el("tbody");
    [["daily_limit", d.daily_limit + " (" + YKT.t("default") + " " + d.daily_limit_default + ")"],
     ["low_balance", d.low_balance],
     ["autotopup", d.autotopup_below ? YKT.t("below") + " " + d.autotopup_below + " → +" +
       d.autotopup_amount : YKT.t("off")]].forEach(([k, val]) => {
      const tr = YKT.el("tr"); tr.appendChild(YKT.el("th", YKT.t(k)));
      const td = YKT.el("td", val); td.id = "set-" + k + "-now"; tr.appendChild(td);
      tb.appendChild(tr); });
    body.appendChild(tb);
    document.getElementById("settings").replaceChildren(body);
  }
  async function loadSettings() {
    const r = await YKT.api("GET", "/api/holder/settings");
    if (r.status === 200) { settings = r.data; renderSettings(); }
  }
  YKT.form("set-form", "/api/holder/settings", () => ({
    daily: YKT.v("set-daily"), low_balance: YKT.v("set-low"),
    autotopup_below: YKT.v("set-below"), autotopup_amount: YKT.v("set-amount"),
    password: document.getElementById("set-pw").value }), () => { loadSettings(); });

  // ---- leave and overtime ----
  let att = null;
  function unavailable(x) { return x && x.error; }
  function renderAttendance() {
    if (!att) return;
    const box = id => document.getElementById(id);
    if (unavailable(att.leaves)) { box("attendance-card").hidden = true; return; }
    YKT.table(box("my-leaves"), att.leaves, [
      { key: "id", label: "#" }, { key: "type", label: "leave_type", fmt: v => YKT.tv("lt_", v) },
      { key: "from", label: "from" }, { key: "to", label: "to" },
      { key: "days", label: "days", num: true }, { key: "status", label: "status", badge: true },
      { key: "note", label: "note" }]);
    YKT.table(box("my-overtimes"), unavailable(att.overtimes) ? [] : att.overtimes, [
      { key: "id", label: "#" }, { key: "date", label: "date" },
      { key: "minutes", label: "minutes", num: true },
      { key: "status", label: "status", badge: true }, { key: "note", label: "note" }]);
    YKT.table(box("my-balances"), unavailable(att.balances) ? [] : att.balances, [
      { key: "type", label: "leave_type", fmt: v => YKT.tv("lt_", v) },
      { key: "days", label: "granted", num: true }, { key: "used", label: "used", num: true },
      { key: "pending", label: "pending", num: true }, { key: "left", label: "left", num: true }]);
  }
  async function loadAttendance() {
    const r = await YKT.api("GET", "/api/holder/attendance?year=" + new Date().getFullYear());
    if (r.status === 200) { att = r.data; renderAttendance(); }
  }
  YKT.form("lv-form", "/api/holder/leave-apply", () => ({
    type: YKT.v("lv-type"), from: YKT.v("lv-from"), to: YKT.v("lv-to"),
    reason: YKT.v("lv-reason") }), d => { loadAttendance(); return YKT.t("applied") + " #" + d.id; });
  YKT.form("ot-form", "/api/holder/overtime-apply", () => ({
    date: YKT.v("ot-date"), reason: YKT.v("ot-reason") }),
    d => { loadAttendance(); return YKT.t("applied") + " #" + d.id; });

  // ---- library, bookings ----
  let lib = null, rooms = null;
  function renderLibrary() {
    const box = id => document.getElementById(id);
    if (lib) {
      if (unavailable(lib.loans)) box("library-card").hidden = true;
      else {
        YKT.table(box("loans"), lib.loans, [
          { key: "barcode", label: "barcode" }, { key: "title", label: "book_title" },
          { key: "borrowed", label: "borrowed" }, { key: "due_date", label: "due" },
          { key: "days_overdue", label: "overdue_days", num: true },
          { key: "fine_so_far", label: "fine", num: true }]);
        YKT.table(box("reservations"), unavailable(lib.reservations) ? [] : lib.reservations, [
          { key: "title", label: "book_title" }, { key: "status", label: "status" },
          { key: "reserved", label: "at" }, { key: "hold_until", label: "hold_until" }]);
        YKT.table(box("lib-record"), unavailable(lib.record) ? [] : lib.record, [
          { key: "title", label: "book_title" }, { key: "borrowed", label: "borrowed" },
          { key: "returned", label: "returned" }, { key: "fine", label: "fine", num: true },
          { key: "fine_status", label: "status" }]);
      }
    }
    if (rooms) {
      if (unavailable(rooms.bookings)) box("bookings-card").hidden = true;
      else {
        YKT.table(box("bookings"), rooms.bookings, [
          { key: "booking", label: "#" }, { key: "room", label: "room" },
          { key: "day", label: "date" }, { key: "time", label: "time" },
          { key: "party", label: "party", num: true }, { key: "status", label: "status", badge: true }]);
        const sel = box("bk-room");
        const keep = sel.value;
        const open = unavailable(rooms.rooms) ? [] : rooms.rooms.filter(x => x.status === "open");
        sel.replaceChildren(...open.map(x => {
          const o = document.createElement("option");
          o.value = x.room;
          o.textContent = `${x.name} (${x.room}) ${x.open}–${x.close}` +
            (x.fee && x.fee !== "0.00" ? ` · ${x.fee}` : "");
          return o;
        }));
        if (keep) sel.value = keep;
        box("bk-form").hidden = open.length === 0;
      }
    }
  }
  YKT.form("bk-form", "/api/holder/book", () => ({
    room: YKT.v("bk-room"), date: YKT.v("bk-date"), time: YKT.v("bk-time"),
    party: YKT.v("bk-party") }),
    d => { loadLibrary(); return YKT.t("booked_done") + " #" + d.booking; });

  async function loadLibrary() {
    const [a, b] = await Promise.all([YKT.api("GET", "/api/holder/library"),
                                      YKT.api("GET", "/api/holder/bookings")]);
    if (a.status === 200) lib = a.data;
    if (b.status === 200) rooms = b.data;
    renderLibrary();
  }

  document.getElementById("statement-link").href = "/statement.html?month=" + YKT.thisMonth();
  document.addEventListener("ykt-lang", () => {
    renderRecords(); renderSettings(); renderAttendance(); renderLibrary(); loadChart(); });
  await Promise.all([loadChart(), loadRecords(), loadSettings(), loadAttendance(), loadLibrary()]);
})();
