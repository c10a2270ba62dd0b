// Browser tests of the web portal (issue 10, "Done when"). Starts the real yktd (demo
// configuration, temporary paths, as tests/e2e/harness.py does) and ykt-web, provisions a
// small campus with yktctl, and drives Debian's chromium through playwright-core:
//
//   - a holder signs in, sees the balance, reports the card lost, and a PAY is then refused;
//   - the holder changes the query password and signs in with the new one;
//   - a department head approves a leave and the leave-day balance drops;
//   - an operator replaces the card and the balance moves by the fee;
//   - a wrong role gets 403 (pages and API); a POST without the CSRF token gets 403;
//     a cross-site sign-in is refused; a wrong password is refused.
//
// Times: the test lives on a fixed school day whatever the machine's date, as the e2e tests
// do (tests/e2e/test_attendance.py AttendanceCase): yktd is started with its clock shifted to
// 2026-11-25 12:30 campus time (UTC+8, a Wednesday of the autumn term, a workday for both
// shipped attendance policies) through YKT_TEST_CLOCK_OFFSET_MS (honoured by test builds);
// the software cards sign that shifted time (pay.py), the browser's clock is installed at it
// (playwright's clock, campus time zone), and every date the test uses (leave, overtime,
// bookings, settlement, the bank statement) is computed from CAMPUS_DAY.
//
// Screenshots of the main pages go to $YKT_WEB_SCREENSHOTS (default BUILD/web-screenshots).
// Environment: YKT_SOURCE_DIR, YKT_BUILD_DIR (set by ctest), CHROMIUM (/usr/bin/chromium).
// Ends with the line "N passed, N failed"; exits 1 if anything failed.
"use strict";

const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const SOURCE = path.resolve(process.env.YKT_SOURCE_DIR || path.join(__dirname, "..", ".."));
const BUILD = path.resolve(process.env.YKT_BUILD_DIR || path.join(SOURCE, "build", "test"));
const YKTD = path.join(BUILD, "core", "yktd");
const YKTCTL = path.join(BUILD, "tools", "yktctl", "yktctl");
const YKTWEB = path.join(BUILD, "tools", "web", "ykt-web");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.YKT_WEB_SCREENSHOTS || path.join(BUILD, "web-screenshots");
const MASTER_KEY = "000102030405060708090a0b0c0d0e0f";
const STAFF_PW = "operator-pass-1";

let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  // ctest reports exit 77 as "Skipped" (SKIP_RETURN_CODE): visible, not silent, and not a
  // failure on a machine that cannot reach the npm registry.
  console.error("SKIPPED: playwright-core is missing: run tools/scripts/web-deps.sh " +
                "(npm ci in tests/web; make test does)");
  process.exit(77);
}

const results = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ykt-web-"));
const sock = path.join(dir, "yktd.sock");
const procs = [];

function log(...a) { console.log(...a); }

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, true]);
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, false]);
    log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function assert(cond, msg) { if (!cond) throw new Error("assertion failed: " + msg); }
function eq(a, b, msg) {
  if (JSON.stringify(a) !== JSON.stringify(b))
    throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

function ctl(...args) {
  const env = { ...process.env };
  delete env.YKTCTL_USER; delete env.YKTCTL_PASSWORD;
  const out = execFileSync(YKTCTL, ["-s", sock, "--json", ...args], { env, encoding: "utf8",
                                                                   stdio: ["ignore", "pipe", "pipe"] });
  return out.trim() ? JSON.parse(out) : null;
}

function ctlAs(user, password, ...args) {
  const env = { ...process.env, YKTCTL_PASSWORD: password };
  delete env.YKTCTL_USER;
  const out = execFileSync(YKTCTL, ["-s", sock, "--json", "-u", user, ...args],
                           { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return out.trim() ? JSON.parse(out) : null;
}

// Runs yktctl as an operator and expects a refusal: returns its "yktctl: CODE message" line.
function ctlRefused(user, password, ...args) {
  try {
    ctlAs(user, password, ...args);
  } catch (e) {
    return String(e.stderr || "").trim();
  }
  throw new Error(`yktctl ${args.join(" ")} as ${user} was not refused`);
}

function addOperator(name, role, department) {
  const args = ["operator", "add", name, "--role", role];
  if (department) args.push("--department", department);
  const initial = ctl(...args).initial_password;
  ctlAs(name, initial, "passwd", initial, STAFF_PW);
}

const SERVICE_PW = "portal-service-pass-1";

// ---- the campus clock (see "Times" above) ----
const CAMPUS_TZ = "Asia/Shanghai"; // conf/ykt.ini [campus] timezone
const CAMPUS_DAY = "2026-11-25";   // a Wednesday in term (the e2e tests' CAMPUS_DAY)
const CAMPUS_START_MS = Date.parse(`${CAMPUS_DAY}T12:30:00+08:00`);
// yktd's clock is the machine's plus this, from its start on; read once, before yktd starts.
const CLOCK_OFFSET_MS = CAMPUS_START_MS - Date.now();
function campusNowMs() { return Date.now() + CLOCK_OFFSET_MS; }

// Calendar arithmetic on YYYY-MM-DD days (no time of day, no time zone).
function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function weekday(day) { return new Date(day + "T00:00:00Z").getUTCDay(); } // 0 Sunday

// Starts a program and resolves with the first match of `ready` in its output.
function startProc(cmd, args, logName, ready, opts = {}) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(path.join(dir, logName), "a");
    const p = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], ...opts });
    procs.push(p);
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready:\n${text}`)), 30000);
    const onData = d => {
      fs.writeSync(out, d);
      text += d.toString();
      const m = text.match(ready);
      if (m) { clearTimeout(timer); resolve({ proc: p, match: m }); }
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("error", e => { clearTimeout(timer); reject(e); });
    p.on("exit", code => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}:\n${text}`)); });
  });
}

function stopProc(p) {
  return new Promise(resolve => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    const timer = setTimeout(() => p.kill("SIGKILL"), 20000);
    p.removeAllListeners("exit");
    p.on("exit", code => { clearTimeout(timer); resolve(code); });
    p.kill("SIGTERM");
  });
}

// The card signs the gateway's (shifted) time, as a terminal in step with it would.
function pay(port, terminal, secret, uid, amount, seq, atc) {
  const out = execFileSync("python3", [path.join(__dirname, "pay.py"), String(port), terminal,
    secret, uid, MASTER_KEY, String(amount), String(seq), String(atc), String(campusNowMs())],
    { encoding: "utf8" });
  return JSON.parse(out);
}

// The Monday and Tuesday of a week at least three weeks after CAMPUS_DAY (2026-12-21 and
// 2026-12-22: workdays for the staff policy, in the same year), as YYYY-MM-DD.
function leaveDates() {
  let from = addDays(CAMPUS_DAY, 21);
  while (weekday(from) !== 1) from = addDays(from, 1);
  return [from, addDays(from, 1)];
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
}

async function main() {
  const t0 = Date.now();
  fs.mkdirSync(SHOTS, { recursive: true });
  const keyFile = path.join(dir, "master.key");
  fs.writeFileSync(keyFile, MASTER_KEY + "\n", { mode: 0o600 });
  const sets = {
    "storage.path": path.join(dir, "ykt.db"), "admin.socket": sock,
    "terminal.listen": "127.0.0.1:0", "log.level": "info", "cards.master_key": keyFile,
    "rules.dir": path.join(SOURCE, "scripts"), "plugins.dir": path.join(BUILD, "plugins"),
    "plugin.attendance.enabled": "yes",
    "plugin.rooms.enabled": "yes",
    "plugin.bank.enabled": "yes", "plugin.bank.banks": "icbc",
    "plugin.bank.key_file_icbc": path.join(dir, "bank-icbc.key"),
  };
  fs.writeFileSync(path.join(dir, "bank-icbc.key"), "ab".repeat(32) + "\n", { mode: 0o600 });
  const yargs = ["-c", path.join(SOURCE, "conf", "ykt.ini")];
  for (const [k, v] of Object.entries(sets)) yargs.push("--set", `${k}=${v}`);
  const yktd = await startProc(YKTD, yargs, "yktd.log", /ready: terminal port [^ ]*:(\d+)/, {
    env: { ...process.env, YKT_TEST_CLOCK_OFFSET_MS: String(CLOCK_OFFSET_MS) } });
  const termPort = Number(yktd.match[1]);
  // Everything below counts on yktd living on CAMPUS_DAY: a build without the test clock
  // hook (YKT_TESTS=OFF) stops here rather than failing the checks in confusing ways.
  const started = Date.parse(ctl("status").started_at);
  assert(Math.abs(started - CAMPUS_START_MS) < 60000,
         `yktd's clock is not on ${CAMPUS_DAY} 12:30 +08:00 (YKT_TEST_CLOCK_OFFSET_MS ignored?): ` +
         `started_at ${new Date(started).toISOString()}`);

  // ---- the campus ----
  ctl("merchant", "add", "canteen-1", "--name", "一食堂", "--category", "canteen");
  const posSecret = ctl("terminal", "add", "POS-1", "--type", "pos", "--owner", "canteen-1").secret;
  ctl("merchant", "add", "shop-1", "--name", "教育超市", "--category", "shop");
  const shopSecret = ctl("terminal", "add", "POS-2", "--type", "pos", "--owner", "shop-1").secret;
  ctl("person", "add", "S1", "--kind", "student", "--name", "张三", "--gender", "M",
      "--id-number", "110105200503070019", "--department", "CS", "--phone", "13812345678",
      "--class", "CS-2025-1", "--enrolled", "2025-09-01", "--study-years", "4");
  const s1 = ctl("card", "issue", "S1");
  ctl("account", "topup", "S1", "--amount", "100");
  ctl("person", "add", "T1", "--kind", "staff", "--name", "李老师", "--gender", "F",
      "--id-number", "110105198001010024", "--department", "CS", "--phone", "13900001111",
      "--valid-until", "2030-12-31");
  ctl("approval", "add", "T1", "--kind", "unit_leader", "--approver", "王主任", "--ref", "HR-1");
  ctl("approval", "add", "T1", "--kind", "functional_dept", "--approver", "人事处", "--ref", "HR-2");
  const t1 = ctl("card", "issue", "T1");
  addOperator("counter1", "operator");
  addOperator("csadmin", "dept_admin", "CS");
  addOperator("cshead", "dept_head", "CS");
  addOperator("mother", "guardian");
  ctl("guardian", "link", "mother", "--person", "S1");
  addOperator("fin1", "finance");
  addOperator("aud1", "auditor");

  const [from, to] = leaveDates();
  const year = from.slice(0, 4);
  // A booking on the first weekday at least two days after CAMPUS_DAY (Friday 2026-11-27).
  // The rooms plugin is enabled above: a refusal here fails the bookings check below.
  let booking = null, bookingError = "";
  try {
    ctl("rooms", "add", "R101", "--name", "研讨室101", "--kind", "venue");
    let day = addDays(CAMPUS_DAY, 2);
    while (weekday(day) === 0 || weekday(day) === 6) day = addDays(day, 1);
    booking = ctl("rooms", "book", "R101", day, "10:00", "--person", "S1");
  } catch (e) {
    bookingError = String(e.stderr || e);
    log("rooms booking not set up: " + bookingError);
  }
  ctlAs("csadmin", STAFF_PW, "attendance", "balance-set", "T1", "annual", "5", "--year", year);
  const leave = ctlAs("csadmin", STAFF_PW, "attendance", "leave-apply", "T1", "annual", from, to,
                      "--reason", "探亲");
  log(`campus ready: terminal port ${termPort}, leave #${leave.id} (${leave.days} days)`);

  // ---- ykt-web, with its own service account: an operator of role portal ----
  const serviceInitial = ctl("operator", "add", "ykt-web", "--role", "portal").initial_password;
  ctlAs("ykt-web", serviceInitial, "passwd", serviceInitial, SERVICE_PW);
  const pwFile = path.join(dir, "ykt-web.password");
  fs.writeFileSync(pwFile, SERVICE_PW + "\n", { mode: 0o600 });
  const webIni = path.join(dir, "ykt-web.ini");
  fs.writeFileSync(webIni, fs.readFileSync(path.join(SOURCE, "conf", "ykt-web.ini"), "utf8")
    .replace(/^service_password_file = .*$/m, `service_password_file = ${pwFile}`));
  // ykt-web picks two defaults by the date (the spending chart's months, the head's balance
  // year: tools/web/http.c, ykt_now_ms), so it gets the same clock offset as yktd.
  const web = await startProc(YKTWEB, ["-c", webIni, "-l", "127.0.0.1:0", "-s", sock,
                                       "-r", path.join(SOURCE, "web")],
                              "ykt-web.log", /listening on (http:\/\/[^/]+)\//,
                              { env: { ...process.env,
                                       YKT_TEST_CLOCK_OFFSET_MS: String(CLOCK_OFFSET_MS) } });
  const base = web.match[1];
  log(`ykt-web at ${base}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  try {
    await scenarios(browser, base, { termPort, posSecret, shopSecret, s1, t1, leave, year, booking,
                                     bookingError });
  } finally {
    await browser.close();
  }

  const webRc = await stopProc(web.proc);
  await check("ykt-web stops cleanly on SIGTERM", async () => eq(webRc, 0, "ykt-web exit status"));
  await check("the ledger audits clean", async () => {
    const rows = ctl("audit");
    const bad = rows.filter(r => r.result !== "ok");
    eq(bad, [], "audit violations");
  });
  const yktdRc = await stopProc(yktd.proc);
  await check("yktd stops cleanly", async () => eq(yktdRc, 0, "yktd exit status"));
  log(`browser test took ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
}

// Each page's clock runs from yktd's (CAMPUS_DAY, in the campus time zone), so what the pages
// take for "this month" or "this year" is the gateway's, not the machine's.
async function newPage(browser, base) {
  const context = await browser.newContext({ baseURL: base, locale: "zh-CN", timezoneId: CAMPUS_TZ,
                                             viewport: { width: 1200, height: 800 } });
  await context.clock.install({ time: campusNowMs() });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { context, page };
}

async function signIn(page, kind, login, password) {
  await page.goto("/");
  if (kind === "staff") await page.click("#tab-staff");
  await page.fill("#login", login);
  await page.fill("#password", password);
  await page.click("#signin");
}

// fetch() from inside the page, so the browser's own cookie goes along.
function pageFetch(page, method, url, body, headers) {
  return page.evaluate(async ([m, u, b, h]) => {
    const r = await fetch(u, { method: m, headers: h || {}, credentials: "same-origin",
                               body: b === null ? undefined : JSON.stringify(b) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }, [method, url, body === undefined ? null : body, headers]);
}

async function scenarios(browser, base, env) {
  const { termPort, posSecret, shopSecret, s1, t1, leave, year, booking, bookingError } = env;
  const holder = await newPage(browser, base);
  const hp = holder.page;
  let balance = 100;
  let newQuery = "135790";

  await check("the sign-in page is in Chinese first and switches to English", async () => {
    await hp.goto("/");
    eq(await hp.textContent("#signin"), "登录", "button text");
    // The form is never sent by the browser itself (before login.js is ready, say): its
    // inputs have no names, so a password could not end up in a URL.
    eq(await hp.evaluate(() => document.querySelectorAll("#login-form [name]").length), 0,
       "named inputs");
    await shot(hp, "01-login");
    await hp.selectOption("#lang", "en");
    eq(await hp.textContent("#signin"), "Sign in", "English button text");
    await shot(hp, "01-login-en");
    await hp.selectOption("#lang", "zh-CN");
  });

  await check("a wrong query password is refused", async () => {
    await signIn(hp, "holder", "S1", "000000");
    await hp.waitForSelector("#login-msg.error");
    assert((await hp.textContent("#login-msg")).includes("密码错误"), "error shown");
  });

  await check("ykt-web's service account is a portal operator, refused superuser commands", async () => {
    const log = fs.readFileSync(path.join(dir, "ykt-web.log"), "utf8");
    assert(!log.includes("warning"), "no warning at start: " + log);
    eq(ctlAs("ykt-web", SERVICE_PW, "whoami").role, "portal", "role");
    for (const [args, cname] of [
      [["operator", "add", "evil", "--role", "superuser"], "operator add"],
      [["card", "issue", "S1"], "card issue"],
      [["payment", "refund", "1", "--amount", "1", "--reason", "x"], "payment refund"],
      [["backup", path.join(dir, "copy.db")], "backup"],
      [["audit", "list"], "audit list"],
      [["attendance", "leave-approve", String(leave.id)], "attendance leave-approve"]]) {
      const line = ctlRefused("ykt-web", SERVICE_PW, ...args);
      assert(line.startsWith(`yktctl: FORBIDDEN '${cname}' needs role`) &&
             line.endsWith("you are portal"), line);
    }
    assert(!fs.existsSync(path.join(dir, "copy.db")), "no backup written");
    eq(ctl("operator", "list").map(o => o.operator).includes("evil"), false, "no operator added");
    // and it has no pages: its staff sign-in is refused
    const r = await holder.context.request.post(base + "/api/login", {
      headers: { "Content-Type": "application/json" },
      data: { kind: "staff", login: "ykt-web", password: SERVICE_PW } });
    eq(r.status(), 403, "service account sign-in");
  });

  await check("a cross-site sign-in POST is refused", async () => {
    const r = await holder.context.request.post(base + "/api/login", {
      headers: { Origin: "http://evil.example", "Content-Type": "application/json" },
      data: { kind: "holder", login: "S1", password: s1.initial_query_password } });
    eq(r.status(), 403, "status");
  });

  await check("a holder signs in with the card number and sees the balance", async () => {
    // The wrong try above counted one failure; this one clears the count.
    await signIn(hp, "holder", s1.card_no, s1.initial_query_password);
    await hp.waitForURL("**/holder.html");
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    eq(await hp.textContent("#balance"), "100.00", "balance");
    eq(await hp.getAttribute("#card-status .status", "data-status"), "active", "card status");
    const person = await hp.textContent("#person");
    assert(person.includes("110***********0019"), "ID number masked: " + person);
    assert(person.includes("138****5678"), "phone masked: " + person);
    assert(!person.includes("110105200503070019"), "no clear ID number");
    const cookies = await holder.context.cookies();
    const sid = cookies.find(c => c.name === "ykt_sid");
    assert(sid && sid.httpOnly && sid.sameSite === "Strict", "HttpOnly SameSite=Strict cookie");
    eq(await hp.evaluate(() => document.cookie), "", "cookie invisible to scripts");
    eq(await hp.evaluate(() => Object.keys(localStorage)), ["ykt-lang"], "localStorage keys");
  });

  await check("the card pays before it is reported lost", async () => {
    const r = pay(termPort, "POS-1", posSecret, s1.uid, 500, 1, 1);
    assert(r.reply, "paid: " + JSON.stringify(r));
    balance = r.reply[2] / 100;
    await hp.reload();
    await hp.waitForFunction(() => document.querySelectorAll("#records tbody tr").length >= 2);
    eq(await hp.textContent("#balance"), balance.toFixed(2), "balance after paying");
    await shot(hp, "02-holder-home");
  });

  await check("wrong role: a holder gets 403 from staff pages and APIs", async () => {
    for (const url of ["/counter.html", "/head.html", "/staff.html"]) {
      const resp = await hp.goto(url);
      eq(resp.status(), 403, url);
    }
    await shot(hp, "07-forbidden");
    await hp.goto("/holder.html");
    eq((await pageFetch(hp, "GET", "/api/counter/person?no=S1")).status, 403, "counter API");
    eq((await pageFetch(hp, "GET", "/api/head/leaves")).status, 403, "head API");
  });

  await check("a POST without the CSRF token is refused with 403", async () => {
    const r = await pageFetch(hp, "POST", "/api/holder/report-loss",
                              { password: s1.initial_query_password },
                              { "Content-Type": "application/json" });
    eq(r.status, 403, "status");
    eq(r.data.error, "CSRF", "code");
    const wrong = await pageFetch(hp, "POST", "/api/holder/report-loss",
                                  { password: s1.initial_query_password },
                                  { "Content-Type": "application/json", "X-CSRF-Token": "0".repeat(64) });
    eq(wrong.status, 403, "wrong token");
    const card = ctl("card", "show", s1.card_no);
    eq(card.status, "active", "the card is untouched");
  });

  await check("the holder changes the query password and signs in with the new one", async () => {
    await hp.goto("/holder.html");
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    await hp.selectOption("#pw-which", "query");
    await hp.fill("#pw-old", s1.initial_query_password);
    await hp.fill("#pw-new", newQuery);
    await hp.fill("#pw-new2", newQuery);
    await hp.click("#pw-go");
    await hp.waitForSelector("#pw-msg.ok");
    await hp.click("#logout");
    await hp.waitForURL(base + "/");
    eq((await pageFetch(hp, "GET", "/api/holder/home")).status, 401, "signed out");
    await signIn(hp, "holder", "S1", newQuery);
    await hp.waitForURL("**/holder.html");
  });

  await check("records by category, the monthly chart and the printable statement", async () => {
    const r = pay(termPort, "POS-2", shopSecret, s1.uid, 1250, 1, 3);
    assert(r.reply, "paid at the shop: " + JSON.stringify(r));
    balance = r.reply[2] / 100;
    await hp.goto("/holder.html");
    const month = await hp.evaluate(() => YKT.thisMonth());
    eq(month, CAMPUS_DAY.slice(0, 7), "the page's month is the gateway's");
    // ykt-web picks the chart's months itself: say so if they miss the gateway's month
    const spending = await pageFetch(hp, "GET", "/api/holder/spending?months=6");
    assert(spending.status === 200 && spending.data.months.includes(month),
           `the chart's months ${JSON.stringify(spending.data && spending.data.months)} ` +
           `include ${month} (ykt-web takes them from the machine's clock: tools/web/http.c)`);
    await hp.waitForSelector(`#chart rect[data-category="shop"][data-month="${month}"]`);
    eq(await hp.getAttribute(`#chart rect[data-category="shop"]`, "data-fen"), "1250", "shop bar");
    eq(await hp.getAttribute(`#chart rect[data-category="canteen"]`, "data-fen"), "500", "canteen bar");
    await hp.waitForSelector("#rec-table tbody tr");
    eq(await hp.locator("#rec-table tbody tr").count(), 2, "two payments");
    await hp.selectOption("#rec-cat", "shop");
    await hp.click("#rec-go");
    await hp.waitForFunction(() => document.querySelectorAll("#rec-table tbody tr").length === 1);
    assert((await hp.textContent("#rec-table tbody")).includes("教育超市"), "the shop's payment");
    await shot(hp, "08-holder-spending");
    const empty = await pageFetch(hp, "GET", "/api/holder/records?from=2001-01-01&to=2001-01-31");
    eq([empty.status, empty.data.length], [200, 0], "a date range without payments");
    await hp.click("#statement-link");
    await hp.waitForURL("**/statement.html?month=*");
    await hp.waitForSelector("#st-table tbody tr");
    const text = await hp.textContent("#st-table");
    assert(text.includes("100.00") && text.includes(balance.toFixed(2)), "opening and closing: " + text);
    await hp.emulateMedia({ media: "print" });
    assert(!(await hp.isVisible("#st-print")), "no buttons in print");
    await shot(hp, "09-statement-print");
    await hp.emulateMedia({ media: "screen" });
  });

  await check("the holder is told on the home page when a month's statement is ready", async () => {
    // S1's wallet as if opened before this month, and no month told yet: the daily job tells
    execFileSync("python3", ["-c", "import sqlite3, sys\n" +
      "c = sqlite3.connect(sys.argv[1])\n" +
      "c.execute(\"UPDATE accounts SET created_at = 0 WHERE kind = 'wallet' AND owner = " +
      "(SELECT CAST(id AS TEXT) FROM people WHERE person_no = 'S1')\")\n" +
      "c.execute(\"DELETE FROM meta WHERE key = 'statements_month'\")\n" +
      // another holder's notice, which S1's page must not show
      "c.execute(\"INSERT INTO notices (at, person_id, kind, message, amount) SELECT 0, id, " +
      "'low_balance', 'T1 only', 0 FROM people WHERE person_no = 'T1'\")\n" +
      "c.commit()\n", path.join(dir, "ykt.db")]);
    eq(ctl("job", "run", "statements").items, 1, "holders told");
    assert(ctl("notice", "list", "--person", "T1").some((n) => n.message === "T1 only"),
           "T1's notice is there to be left out");
    const own = await pageFetch(hp, "GET", "/api/holder/notices");
    eq(own.status, 200, "notices");
    assert(own.data.length > 0 && own.data.every((n) => n.person === "S1"),
           "S1's notices only: " + JSON.stringify(own.data));
    await hp.goto("/holder.html");
    await hp.waitForSelector("#notices tbody tr");
    const text = await hp.textContent("#notices");
    assert(text.includes("月度对账单") && text.includes("account statement S1 --month"),
           "the statement notice: " + text);
  });

  await check("the holder lowers the daily limit with the payment password (not above the default)", async () => {
    await hp.goto("/holder.html#settings-card");
    await hp.waitForSelector("#set-daily_limit-now");
    await hp.fill("#set-daily", "50");
    await hp.fill("#set-pw", "000000");
    await hp.click("#set-go");
    await hp.waitForSelector("#set-msg.error");
    await hp.fill("#set-pw", s1.initial_pay_password);
    await hp.click("#set-go");
    await hp.waitForSelector("#set-msg.ok");
    await hp.waitForFunction(() => document.getElementById("set-daily_limit-now").textContent.startsWith("50.00"));
    eq(await hp.inputValue("#set-pw"), "", "password field cleared");
    const csrf = (await pageFetch(hp, "GET", "/api/session")).data.csrf;
    const high = await pageFetch(hp, "POST", "/api/holder/settings",
      { daily: "99999", password: s1.initial_pay_password },
      { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    eq([high.status, high.data.error], [409, "LIMIT_EXCEEDED"], "raising is refused");
    const audit = ctl("audit", "list", "--action", "portal.settings");
    assert(audit.some(a => a.target === "S1"), "audited");
    await shot(hp, "10-holder-settings");
  });

  await check("the holder sees bookings; library and attendance sections follow the plugins", async () => {
    const b = await pageFetch(hp, "GET", "/api/holder/bookings");
    eq(b.status, 200, "bookings API");
    const lib = await pageFetch(hp, "GET", "/api/holder/library");
    assert(lib.status === 200 && lib.data.loans.error, "library plugin not loaded: reported per part");
    assert(await hp.isHidden("#library-card"), "library section hidden without the plugin");
    assert(booking, "S1's booking was set up: " + bookingError);
    eq(b.data.bookings.length, 1, "one booking");
    await hp.waitForSelector("#bookings tbody tr");
    // the holder books a slot for themselves (rooms book over the portal account)
    await hp.selectOption("#bk-room", "R101");
    await hp.fill("#bk-date", booking.day);
    await hp.fill("#bk-time", "14:00");
    await hp.click("#bk-go");
    await hp.waitForSelector("#bk-msg.ok");
    await hp.waitForFunction(() => document.querySelectorAll("#bookings tbody tr").length === 2);
    // a person field is ignored: the booking is the signed-in holder's
    const csrf = (await pageFetch(hp, "GET", "/api/session")).data.csrf;
    const other = await pageFetch(hp, "POST", "/api/holder/book",
      { room: "R101", date: booking.day, time: "15:00", person: "T1" },
      { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    eq([other.status, other.data.person], [200, "S1"], "booked for the holder");
    const mine = ctl("rooms", "bookings", "--person", "S1");
    eq(mine.length, 3, "three bookings of S1");
    eq((ctl("rooms", "bookings", "--person", "T1") || []).length, 0, "none for T1");
    const audit = ctl("audit", "list", "--action", "rooms.book");
    assert(audit.some(a => a.operator === "ykt-web" && a.role === "portal" &&
                           a.detail.includes("for S1")), "audited: " + JSON.stringify(audit));
  });

  await check("the holder reports the card lost; a PAY is then refused", async () => {
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    await hp.fill("#loss-password", newQuery);
    await hp.click("#loss-go");
    await hp.waitForSelector("#loss-msg.ok");
    await hp.waitForSelector('#card-status .status[data-status="lost"]');
    await shot(hp, "03-holder-lost");
    eq(ctl("card", "show", s1.card_no).status, "lost", "card status in yktd");
    const r = pay(termPort, "POS-1", posSecret, s1.uid, 300, 2, 4);
    assert(r.error && r.error.startsWith("CARD_LOST"), "PAY refused: " + JSON.stringify(r));
    const audit = ctl("audit", "list", "--target", s1.card_no);
    assert(audit.some(a => a.action === "card.loss" && a.operator === "holder:S1"), "audited");
  });
  await holder.context.close();

  // ---- the department head ----
  const head = await newPage(browser, base);
  const dp = head.page;
  await check("a department head approves a leave and the leave-day balance drops", async () => {
    await signIn(dp, "staff", "cshead", STAFF_PW);
    await dp.waitForURL("**/head.html");
    await dp.waitForSelector(`#approve-${leave.id}`);
    await dp.waitForSelector("#balances tbody tr");
    const before = ctl("attendance", "balances", "T1", "--year", year).find(b => b.type === "annual");
    eq([before.used, before.pending], [0, leave.days], "before");
    // the page asks for the default year, which ykt-web picks itself
    const shown = await pageFetch(dp, "GET", "/api/head/balances?person=T1");
    assert(shown.status === 200 && shown.data.some(b => b.type === "annual" && b.pending === leave.days),
           `the head's page shows the balances of ${year} (ykt-web takes the default year from ` +
           `the machine's clock: tools/web/http.c): ${JSON.stringify(shown.data)}`);
    await shot(dp, "04-head-pending");
    await dp.fill(`#note-${leave.id}`, "同意");
    await dp.click(`#approve-${leave.id}`);
    await dp.waitForSelector("#leave-msg.ok");
    const after = ctl("attendance", "balances", "T1", "--year", year).find(b => b.type === "annual");
    eq([after.used, after.pending, after.left], [leave.days, 0, 5 - leave.days], "after");
    await dp.waitForFunction(
      used => [...document.querySelectorAll("#balances tbody tr")].some(
        tr => tr.cells[0].textContent === "annual" && tr.cells[2].textContent === String(used)),
      leave.days);
    await shot(dp, "05-head-approved");
    eq(ctl("attendance", "leaves", "--person", "T1")[0].status, "approved", "leave status");
  });
  await check("wrong role: a department head gets 403 at the counter", async () => {
    eq((await dp.goto("/counter.html")).status(), 403, "page");
    await dp.goto("/head.html");
    const csrf = (await pageFetch(dp, "GET", "/api/session")).data.csrf;
    const r = await pageFetch(dp, "POST", "/api/counter/replace",
                              { card: s1.card_no, id_number: "110105200503070019" },
                              { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    eq(r.status, 403, "API");
  });
  await head.context.close();

  // ---- a staff member applies for leave and overtime in the portal ----
  const staffer = await newPage(browser, base);
  const tp = staffer.page;
  let otId = 0;
  const otDate = leaveDates()[0];
  await check("a holder applies for overtime and leave for themselves", async () => {
    await signIn(tp, "holder", "T1", t1.initial_query_password || "");
    await tp.waitForURL("**/holder.html");
    await tp.waitForSelector("#my-balances tbody tr");
    await tp.fill("#ot-date", otDate);
    await tp.fill("#ot-reason", "系统上线");
    await tp.click("#ot-go");
    await tp.waitForSelector("#ot-msg.ok");
    otId = Number((await tp.textContent("#ot-msg")).split("#")[1]);
    await tp.waitForSelector(`#my-overtimes tbody tr`);
    const csrf = (await pageFetch(tp, "GET", "/api/session")).data.csrf;
    const over = await pageFetch(tp, "POST", "/api/holder/leave-apply",
      { type: "annual", from: leave.from || otDate, to: leave.to || otDate, person: "S1" },
      { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    eq(over.data.error, "LEAVE_OVERLAP", "overlapping leave refused (and 'person' ignored)");
    eq(ctl("attendance", "overtimes", "--person", "T1").map(o => o.status), ["pending"], "pending");
    eq(ctl("attendance", "overtimes", "--person", "S1").length, 0, "nothing for anyone else");
    await shot(tp, "11-holder-attendance");
  });
  await staffer.context.close();

  const head2 = await newPage(browser, base);
  const hp2 = head2.page;
  await check("the head approves overtime and sees the department's attendance statistics", async () => {
    await signIn(hp2, "staff", "cshead", STAFF_PW);
    await hp2.waitForURL("**/head.html");
    await hp2.waitForSelector(`#ot-approve-${otId}`);
    await hp2.click(`#ot-approve-${otId}`);
    await hp2.waitForSelector("#ot-msg.ok");
    eq(ctl("attendance", "overtimes", "--person", "T1")[0].status, "approved", "approved");
    await hp2.waitForSelector("#stats table, #stats p");
    await shot(hp2, "12-head-stats");
    eq((await pageFetch(hp2, "GET", "/api/finance/merchants")).status, 403, "finance API");
  });
  await head2.context.close();

  // ---- a parent ----
  const parent = await newPage(browser, base);
  const gp = parent.page;
  await check("a guardian reads the child's records, and nobody else's", async () => {
    await signIn(gp, "staff", "mother", STAFF_PW);
    await gp.waitForURL("**/guardian.html");
    await gp.fill("#g-person", "S1");
    await gp.click("#g-go");
    await gp.waitForSelector("#g-payments tbody tr");
    eq(await gp.locator("#g-payments tbody tr").count(), 2, "the child's payments");
    await shot(gp, "13-guardian");
    await gp.fill("#g-person", "T1");
    await gp.click("#g-go");
    await gp.waitForSelector("#g-msg.error");
    eq((await pageFetch(gp, "GET", "/api/guardian/records?person=T1")).status, 403, "another person");
    eq((await pageFetch(gp, "GET", "/api/holder/records")).status, 403, "holder API");
    eq((await gp.goto("/counter.html")).status(), 403, "counter page");
  });
  await parent.context.close();

  // ---- the counter ----
  const counter = await newPage(browser, base);
  const cp = counter.page;
  await check("an operator replaces the card and the balance moves by the fee", async () => {
    await signIn(cp, "staff", "counter1", STAFF_PW);
    await cp.waitForURL("**/counter.html");
    await cp.fill("#find-no", "S1");
    await cp.click("#find-go");
    await cp.waitForSelector("#found:not([hidden])");
    eq(await cp.textContent("#balance"), balance.toFixed(2), "balance before");
    eq(await cp.inputValue("#r-card"), s1.card_no, "the lost card is proposed");
    await shot(cp, "06-counter-person");
    await cp.fill("#r-id", "110105200503070019");
    await cp.selectOption("#r-pay", "wallet");
    await cp.click("#replace-go");
    await cp.waitForSelector("#replace-msg.ok");
    const after = (balance - 10).toFixed(2); // [cards] replacement_fee: 10.00 by default
    await cp.waitForFunction(b => document.getElementById("balance").textContent === b, after);
    await shot(cp, "06-counter-replaced");
    const cards = ctl("card", "list", "--person", "S1");
    eq(cards.map(c => c.status).sort(), ["active", "cancelled"], "old cancelled, new active");
    const acct = ctl("person", "show", "S1");
    eq(acct.balance, after, "balance in yktd");
    const audit = ctl("audit", "list", "--target", s1.card_no);
    assert(audit.some(a => a.action === "card.replace" && a.operator === "counter1"),
           "audited under the operator's own name");
  });
  await check("a wrong ID number is refused at the counter", async () => {
    const live = ctl("card", "list", "--person", "S1").find(c => c.status === "active");
    await cp.fill("#r-card", live.card_no);
    await cp.fill("#r-id", "110105198001010024");
    await cp.click("#replace-go");
    await cp.waitForSelector("#replace-msg.error");
    assert((await cp.textContent("#replace-msg")).includes("ID_MISMATCH") ||
           (await cp.textContent("#replace-msg")).includes("证件号"), "ID mismatch shown");
  });
  await check("counter: loss and unlock with the ID check, a refund of an over-deduction, own audit", async () => {
    await cp.fill("#find-no", "T1");
    await cp.click("#find-go");
    await cp.waitForFunction(() => document.querySelector("#person") &&
                                   document.querySelector("#person").textContent.includes("T1"));
    await cp.fill("#a-card", t1.card_no);
    await cp.fill("#a-id", "110105200503070019");
    await cp.selectOption("#a-action", "loss");
    await cp.click("#act-go");
    await cp.waitForSelector("#act-msg.error");
    await cp.fill("#a-id", "110105198001010024");
    await cp.click("#act-go");
    await cp.waitForSelector("#act-msg.ok");
    eq(ctl("card", "show", t1.card_no).status, "lost", "lost");
    await cp.fill("#a-id", "110105198001010024");
    await cp.selectOption("#a-action", "unlock");
    await cp.click("#act-go");
    await cp.waitForFunction(() => document.getElementById("act-msg").className === "msg ok" &&
                                   document.querySelector('#cards .status[data-status="active"]'));
    eq(ctl("card", "show", t1.card_no).status, "active", "unlocked");
    await cp.fill("#find-no", "S1");
    await cp.click("#find-go");
    await cp.waitForSelector("#payments tbody tr");
    const shopPay = ctl("payment", "search", "--person", "S1").find(p => p.merchant === "shop-1");
    const before = ctl("person", "show", "S1").balance;
    await cp.fill("#pr-payment", String(shopPay.payment));
    await cp.fill("#pr-amount", "2.50");
    await cp.fill("#pr-reason", "重复扣款");
    await cp.click("#pr-go");
    await cp.waitForSelector("#pr-msg.ok");
    eq(ctl("person", "show", "S1").balance, (Number(before) + 2.5).toFixed(2), "refunded to the wallet");
    await cp.click("#audit-go");
    await cp.waitForSelector("#audit tbody tr");
    const audit = await cp.textContent("#audit");
    assert(audit.includes("card.loss") && audit.includes("card.unlock") &&
           audit.includes("payment.refund"), "own audit: " + audit);
    const mine = (await pageFetch(cp, "GET", "/api/counter/audit")).data;
    assert(mine.every(a => a.operator === "counter1"), "only the operator's own rows");
    await shot(cp, "14-counter-actions");
  });
  await check("wrong role: an operator gets 403 from the head's page and APIs", async () => {
    eq((await cp.goto("/head.html")).status(), 403, "page");
    eq((await cp.goto("/holder.html")).status(), 403, "holder page");
    eq((await cp.goto("/finance.html")).status(), 403, "finance page");
    eq((await cp.goto("/admin.html")).status(), 403, "admin page");
    await cp.goto("/counter.html");
    eq((await pageFetch(cp, "GET", "/api/head/leaves")).status, 403, "API");
  });
  await check("signed out, pages send the browser to sign in and APIs answer 401", async () => {
    await cp.click("#logout");
    await cp.waitForURL(base + "/");
    const r = await cp.goto("/counter.html");
    eq(new URL(r.url()).pathname, "/", "redirected to sign-in");
    eq((await pageFetch(cp, "GET", "/api/counter/person?no=S1")).status, 401, "API");
  });
  await counter.context.close();

  // ---- finance ----
  const fin = await newPage(browser, base);
  const fp = fin.page;
  await check("finance settles the day and reconciles an uploaded bank statement", async () => {
    await signIn(fp, "staff", "fin1", STAFF_PW);
    await fp.waitForURL("**/finance.html");
    await fp.waitForSelector("#merchants tbody tr");
    const today = CAMPUS_DAY;
    const yesterday = addDays(CAMPUS_DAY, -1);
    await fp.fill("#fs-period", yesterday); // a period must have ended
    await fp.click("#fs-run");
    await fp.waitForSelector("#fs-msg.ok, #fs-msg.error");
    eq(await fp.getAttribute("#fs-msg", "class"), "msg ok", await fp.textContent("#fs-msg"));
    await fp.waitForSelector("#fs-table table, #fs-table p");
    const csv = path.join(dir, "icbc.csv");
    fs.writeFileSync(csv, `date,reference,bank_card,amount,kind\n${today},R-UNKNOWN-1,6222020000001234,100.00,transfer\n`);
    await fp.setInputFiles("#rc-file", csv);
    await fp.fill("#rc-bank", "icbc");
    await fp.click("#rc-go");
    await fp.waitForSelector("#rc-table tbody tr");
    assert((await fp.textContent("#rc-table")).includes("R-UNKNOWN-1"), "the difference is listed");
    await shot(fp, "15-finance");
    const csrf = (await pageFetch(fp, "GET", "/api/session")).data.csrf;
    eq((await pageFetch(fp, "POST", "/api/finance/settle", { period: yesterday },
        { "Content-Type": "application/json" })).status, 403, "no CSRF token");
    eq((await pageFetch(fp, "POST", "/api/counter/issue", { person: "S1" },
        { "Content-Type": "application/json", "X-CSRF-Token": csrf })).status, 403, "counter API");
    eq((await pageFetch(fp, "GET", "/api/counter/audit")).status, 403, "counter audit API");
  });
  await fin.context.close();

  // ---- administrators (an auditor) ----
  const adm = await newPage(browser, base);
  const ap = adm.page;
  await check("administrators see terminals, plugins and rules, read-only", async () => {
    await signIn(ap, "staff", "aud1", STAFF_PW);
    await ap.waitForURL("**/admin.html");
    await ap.waitForSelector("#a-terminals tbody tr");
    assert((await ap.textContent("#a-terminals")).includes("POS-2"), "terminals");
    assert((await ap.textContent("#a-plugins")).includes("attendance"), "plugins");
    assert((await ap.textContent("#a-rules")).includes("fees"), "rules");
    await shot(ap, "16-admin");
    eq((await pageFetch(ap, "GET", "/api/holder/home")).status, 403, "holder API");
    eq((await ap.goto("/guardian.html")).status(), 403, "guardian page");
  });
  await adm.context.close();
}

main().catch(e => {
  results.push(["setup", false]);
  log("FAIL setup: " + (e && e.stack ? e.stack : e));
}).finally(async () => {
  for (const p of procs) await stopProc(p);
  const passed = results.filter(r => r[1]).length, failed = results.length - passed;
  if (failed === 0 && !process.env.YKT_WEB_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  else log(`logs kept in ${dir}`);
  log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
});
