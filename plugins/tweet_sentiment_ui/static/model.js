// The model page: champion, both holdouts over time, pending approvals, where the latest ambiguous challenger
// disagrees, versions (promoted and rejected, with reasons, gate figures and approvers), pictures, rollback.
function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

function fixed(x) { return x === null || x === undefined ? "–" : x.toFixed(4); }

function perClass(f1) {
  return Object.entries(f1).map(([label, f]) => `${label} ${f.toFixed(3)}`).join(" · ");
}

function rollbackButton(version) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Roll back to this";
  button.dataset.version = version;
  button.addEventListener("click", async () => {
    const reason = prompt(`Why make ${version} champion again?`, "");
    if (reason === null) return;
    try {
      await api("api/model/rollback", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ version, reason }),
      });
      $("rollback-status").textContent = `${version} is champion again.`;
      $("rollback-status").className = "ok";
      await render();
    } catch (error) {
      $("rollback-status").textContent = error.message;
      $("rollback-status").className = "error";
    }
  });
  return button;
}

function signed(x, digits) {
  return `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;
}

// The gate's figures: each holdout (the fixed one with the version it used), the corrections' slices (accuracy on
// the rows a systematic correction touches, Holm-adjusted p) and the rows outside them.
function gatedOn(v) {
  const holdoutName = (name) => (name === "fixed" && v.holdout_version != null ? `fixed (holdout v${v.holdout_version})` : name);
  const parts = Object.entries(v.gate || {}).filter(([, g]) => g)
    .map(([name, g]) => `${holdoutName(name)} ${signed(g.gain, 4)} (p=${g.p_value}`
      + `${g.adjusted_p == null ? "" : `, Holm ${g.adjusted_p}`})`);
  for (const s of v.slices?.slices ?? []) {
    parts.push(`slice ${s.correction}: ${s.rows} ${s.holdout} rows ${signed(s.gain, 3)} accuracy`
      + ` (${s.wins} fixed, ${s.losses} broken, Holm p=${s.adjusted_p})`);
  }
  for (const [name, g] of Object.entries(v.slices ?? {}).filter(([key, g]) => key !== "slices" && g)) {
    parts.push(`${holdoutName(name.replace("_outside", ""))} outside the corrections ${signed(g.gain, 4)} (${g.rows} rows)`);
  }
  if (v.tolerance !== null && v.tolerance !== undefined) parts.push(`tolerance ${v.tolerance}`);
  if (v.approval) parts.push(`${v.approval.decision} by ${v.approval.by ?? "nobody (timeout)"} at ${v.approval.at}`);
  return parts.join(" · ");
}

function rows(table, items, cells) {
  $(table).tBodies[0].replaceChildren(...items.map((item) => {
    const row = document.createElement("tr");
    row.append(...cells(item).map(cell));
    return row;
  }));
}

function renderApprovals(model) {
  $("required-actions").href = model.required_actions;
  rows("pending", model.pending, (p) => [p.version, p.created_at, p.reason]);
  const differ = model.disagreements;
  if (differ.version) $("disagreements-of").textContent = `Challenger ${differ.version} against the champion it was judged with:`;
  rows("disagreements", differ.rows, (r) => [r.holdout, r.label, r.champion, r.challenger, r.text]);
}

let offset = 0;  // the first version shown (newest first), moved a page at a time by the pager
// versions per page: ?limit=n in the page's address, else the server's default
const pageRows = Number(new URLSearchParams(location.search).get("limit")) || 0;

function renderPager(model) {
  const last = Math.min(model.offset + model.versions.length, model.total);
  $("versions-shown").textContent = model.total
    ? `${model.offset + 1}–${last} of ${model.total}` : "no versions yet";
  $("newer").disabled = model.offset === 0;
  $("older").disabled = last >= model.total;
  $("newer").onclick = () => { offset = Math.max(0, model.offset - model.limit); render(); };
  $("older").onclick = () => { offset = model.offset + model.limit; render(); };
}

async function render() {
  const model = await api(`api/model?offset=${offset}${pageRows ? `&limit=${pageRows}` : ""}`);
  $("champion").textContent = model.champion ?? "none yet";
  const champion = model.champion_card;
  if (champion) {
    $("champion-metrics").textContent = `macro-F1 ${fixed(champion.macro_f1)} · accuracy ${fixed(champion.accuracy)}`
      + ` · ${champion.rows_trained} rows`
      + (champion.labelled_version == null ? "" : ` (labelled table version ${champion.labelled_version})`)
      + (champion.holdout_version == null ? "" : ` · judged on fixed holdout v${champion.holdout_version}`)
      + (champion.terms.length ? ` · carries the team's corrections of: ${champion.terms.join(", ")}` : "")
      + ` · promoted ${champion.decided_at ?? ""}`;
    $("per-class").tBodies[0].replaceChildren(...Object.entries(champion.per_class_f1).map(([label, f]) => {
      const row = document.createElement("tr");
      row.append(cell(label), cell(f.toFixed(4)));
      return row;
    }));
  }
  if (model.images.length) {
    $("images").replaceChildren(...model.images.map((name) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.className = "report";
      img.alt = name;
      img.src = `api/model/images/${name.split("/").map(encodeURIComponent).join("/")}`;
      const caption = document.createElement("figcaption");
      caption.textContent = name;
      figure.append(img, caption);
      return figure;
    }));
  }
  $("versions").tBodies[0].replaceChildren(...model.versions.map((v) => {
    const row = document.createElement("tr");
    row.dataset.version = v.version;
    const status = cell(v.status);
    status.className = `status-${v.status}`;
    row.append(cell(v.version), status, cell(fixed(v.macro_f1)), cell(fixed(v.accuracy)), cell(fixed(v.recent_macro_f1)),
      cell(perClass(v.per_class_f1)), cell(v.strategy), cell(v.batches), cell(v.reason),
      cell(gatedOn(v)), cell(v.can_roll_back ? rollbackButton(v.version) : ""));
    return row;
  }));
  renderPager(model);
  renderApprovals(model);
  $("holdouts").src = `api/model/holdouts.png?t=${Date.now()}`;
  $("history").tBodies[0].replaceChildren(...model.history.slice().reverse().map((e) => {
    const row = document.createElement("tr");
    row.append(cell(e.at), cell(e.action), cell(e.version), cell(e.previous), cell(e.reason));
    return row;
  }));
}

render().catch((error) => { $("champion").textContent = `Error: ${error.message}`; });
