// Finance: merchant settlement (daily or monthly) and bank reconciliation differences.
"use strict";
(async () => {
  const s = await YKT.start(["finance", "superuser", "auditor"]);
  if (!s) return;
  let merchants = null, settlements = null, diffs = null;
  const period = document.getElementById("fs-period");
  period.value = YKT.thisMonth();

  function render() {
    if (merchants) YKT.table(document.getElementById("merchants"), merchants, [
      { key: "merchant", label: "merchant" }, { key: "name", label: "name" },
      { key: "category", label: "category", fmt: v => YKT.tv("cat_", v) },
      { key: "status", label: "status" }, { key: "owed", label: "owed", num: true }]);
    if (settlements) YKT.table(document.getElementById("fs-table"), settlements, [
      { key: "settlement", label: "#" }, { key: "merchant", label: "merchant" },
      { key: "period", label: "period" }, { key: "gross", label: "gross", num: true },
      { key: "refunds", label: "refunded", num: true },
      { key: "commission", label: "commission", num: true },
      { key: "net", label: "net", num: true }]);
    if (diffs) YKT.table(document.getElementById("rc-table"), diffs, [
      { key: "class", label: "diff_class", fmt: v => YKT.tv("rc_", v) },
      { key: "reference", label: "reference" }, { key: "bank_amount", label: "bank_amount", num: true },
      { key: "our_amount", label: "our_amount", num: true }, { key: "person", label: "person_no" },
      { key: "note", label: "note" }]);
  }
  async function loadSettlements() {
    const r = await YKT.api("GET", "/api/finance/settlements?period=" + encodeURIComponent(period.value));
    settlements = r.status === 200 ? r.data : [];
    if (r.status !== 200) YKT.message(document.getElementById("fs-msg"), YKT.errorText(r), false);
    render();
  }
  document.getElementById("fs-form").addEventListener("submit", ev => {
    ev.preventDefault(); loadSettlements(); });
  document.getElementById("fs-run").addEventListener("click", async () => {
    const r = await YKT.api("POST", "/api/finance/settle", { period: period.value.trim() });
    const msg = document.getElementById("fs-msg");
    if (r.status === 200) { YKT.message(msg, YKT.t("settled"), true); await loadSettlements(); }
    else YKT.message(msg, YKT.errorText(r), false);
  });
  document.getElementById("rc-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = document.getElementById("rc-file").files[0];
    const msg = document.getElementById("rc-msg");
    if (!f) return;
    const body = { file: await f.text(), name: f.name, bank: YKT.v("rc-bank"), date: YKT.v("rc-date") };
    const r = await YKT.api("POST", "/api/finance/reconcile", body);
    if (r.status === 200) {
      diffs = Array.isArray(r.data) ? r.data : [];
      YKT.message(msg, YKT.t("differences") + ": " + diffs.length, diffs.length === 0);
    } else { diffs = []; YKT.message(msg, YKT.errorText(r), false); }
    render();
  });
  document.addEventListener("ykt-lang", render);
  const m = await YKT.api("GET", "/api/finance/merchants");
  merchants = m.status === 200 ? m.data : [];
  await loadSettlements();
})();
