// The printable account statement (R-W8): a holder's own, or a guardian's pupil's
// (?person=NO), one month, with opening and closing balance. Print with the browser.
"use strict";
(async () => {
  const s = await YKT.start(["holder", "guardian"]);
  if (!s) return;
  const q = new URLSearchParams(location.search);
  const person = q.get("person") || "";
  const month = document.getElementById("st-month");
  month.value = /^\d{4}-\d{2}$/.test(q.get("month") || "") ? q.get("month") : YKT.thisMonth();
  let rows = null;

  function render() {
    if (!rows) return;
    document.getElementById("st-head").textContent = YKT.t("statement_of") + " " +
      (person || s.person_no) + (s.kind === "holder" ? " " + s.name : "") + " · " + month.value;
    YKT.table(document.getElementById("st-table"), rows, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "kind", label: "what", fmt: v => YKT.tv("k_", v) },
      { key: "amount", label: "amount", num: true },
      { key: "balance", label: "balance_after", num: true },
      { key: "where", label: "where" }, { key: "memo", label: "memo" }]);
  }

  async function load() {
    const r = person
      ? await YKT.api("GET", "/api/guardian/records?person=" + encodeURIComponent(person) +
                      "&month=" + month.value)
      : await YKT.api("GET", "/api/holder/statement?month=" + month.value);
    const msg = document.getElementById("st-msg");
    if (r.status === 200) { rows = person ? r.data.statement : r.data; msg.textContent = ""; }
    else { rows = []; YKT.message(msg, YKT.errorText(r), false); }
    render();
  }
  document.getElementById("st-form").addEventListener("submit", ev => { ev.preventDefault(); load(); });
  document.getElementById("st-print").addEventListener("click", () => window.print());
  document.addEventListener("ykt-lang", render);
  await load();
})();
