// The Labels page: the overlap setting, tweets waiting for a third answer, agreement figures and confusions.
let labels = [];

function cells(row, values) {
  for (const value of values) {
    const cell = document.createElement("td");
    cell.append(value);
    row.append(cell);
  }
  return row;
}

function kappa(value) { return value === null ? "n/a" : value.toFixed(3); }

function disputedRow(item, me) {
  const row = document.createElement("tr");
  row.dataset.id = item.id;
  const answers = Object.entries(item.answers).map(([name, a]) => `${name}: ${a.label}`).join(" · ");
  const choice = document.createElement("div");
  choice.className = "labels row";
  if (me in item.answers) {
    choice.textContent = "you gave one of the answers: a third person decides";
  } else {
    for (const label of [...labels, "Unsure"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.label = label;
      button.textContent = label;
      button.addEventListener("click", () => adjudicate(item.id, label));
      choice.append(button);
    }
  }
  return cells(row, [item.text, item.suggested, answers, choice]);
}

function reviewRow(flag) {
  const row = document.createElement("tr");
  row.dataset.id = flag.review_id;
  const choice = document.createElement("div");
  choice.className = "labels row";
  const decide = (text, decision, label = null) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.decision = decision;
    if (label) button.dataset.label = label;
    button.textContent = text;
    button.addEventListener("click", () => review(flag.review_id, decision, label));
    choice.append(button);
  };
  decide(`accept ${flag.label}`, "accept");
  labels.filter((l) => l !== flag.label).forEach((l) => decide(l, "relabel", l));
  decide("drop", "drop");
  return cells(row, [flag.text, `${flag.label} (${flag.annotator || "no annotator"}, ${percent(flag.given_confidence)})`,
    `${flag.suggested} (${percent(flag.confidence)})`, flag.reason, choice]);
}

function confusion(pair) {
  const [first, second] = pair.annotators;
  const table = document.createElement("table");
  table.className = "confusion";
  table.dataset.pair = pair.annotators.join("+");
  const caption = table.createCaption();
  caption.textContent = `${first} (rows) vs ${second} (columns)`;
  table.append(cells(document.createElement("tr"), ["", ...labels]));
  pair.confusion.forEach((counts, i) => table.append(cells(document.createElement("tr"), [labels[i], ...counts.map(String)])));
  return table;
}

function annotatorRow(a) {
  const byClass = [...labels, "Unsure"].filter((l) => a.distribution[l]).map((l) => `${l} ${a.distribution[l]}`).join(" · ");
  const note = a.one_key ? `mostly one key: ${a.one_key}` : "";
  const row = cells(document.createElement("tr"), [a.annotator, String(a.answers), String(a.skipped), byClass,
    a.with_model.exact === null ? "n/a" : percent(a.with_model.exact), kappa(a.with_model.kappa), note]);
  row.dataset.annotator = a.annotator;
  if (note) row.className = "error";
  return row;
}

async function refresh() {
  const [quality, queue] = await Promise.all([api("api/label-quality"), api("api/queue?limit=0")]);
  labels = quality.labels;
  const o = quality.overlap;
  $("overlap").textContent = o.on
    ? `Overlap on: ${percent(o.share)} of each load goes to two of ${o.annotators.join(", ")}.`
    : `Overlap off: ${o.annotators.length ? `one annotator (${o.annotators[0]})` : "no annotators"} configured `
      + "(TWEET_SENTIMENT_ANNOTATORS); agreement is shown for tweets two people answered anyway.";
  $("disputed").tBodies[0].replaceChildren(...quality.disputed.map((item) => disputedRow(item, queue.annotator)));
  $("pairs").tBodies[0].replaceChildren(...quality.pairs.map((p) => cells(document.createElement("tr"), [
    p.annotators.join(" & "), String(p.tweets), p.exact === null ? "n/a" : percent(p.exact), kappa(p.kappa),
    String(p.unsure)])));
  $("confusions").replaceChildren(...quality.pairs.map(confusion));
  $("annotators").tBodies[0].replaceChildren(...quality.annotators.map(annotatorRow));
  const c = quality.flagged.counts;
  $("review-counts").textContent = `Waiting: ${c.pending} · accepted ${c.accept} · relabelled ${c.relabel} · dropped ${c.drop}.`;
  $("flagged-for-review").tBodies[0].replaceChildren(...quality.flagged.pending.map(reviewRow));
  await refreshQuarantine();
}

async function refreshQuarantine() {
  const q = await api("api/quarantine");
  $("quarantine-counts").textContent = `${q.files.length} file(s) waiting; ${q.rows_rejected} row(s) rejected in all.`;
  $("quarantined").tBodies[0].replaceChildren(...q.files.map((f) => cells(document.createElement("tr"), [
    f.batch_id, f.file, f.reason])));
}

async function adjudicate(id, label) {
  try {
    await api("api/adjudications", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id, label }),
    });
    $("adjudicate-status").textContent = `decided ${id} as ${label}: it goes in your next batch`;
    $("adjudicate-status").className = "ok";
  } catch (error) {
    $("adjudicate-status").textContent = `Not recorded: ${error.message}`;
    $("adjudicate-status").className = "error";
  }
  await refresh();
}

async function review(id, decision, label) {
  try {
    const done = await api("api/reviews", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ review_id: id, decision, label }),
    });
    $("review-status").textContent = `${decision} ${id}` + (done.inbox_file ? `: sent as ${done.inbox_file}` : "");
    $("review-status").className = "ok";
  } catch (error) {
    $("review-status").textContent = `Not recorded: ${error.message}`;
    $("review-status").className = "error";
  }
  await refresh();
}

$("send").addEventListener("click", async () => { await sendBatch($("send-status")); await refresh(); });
refresh().catch((error) => { $("overlap").textContent = `Error: ${error.message}`; });
