// The labelling queue: one tweet at a time, most uncertain first; keys 1-5 pick a label, Enter accepts,
// S skips, U answers unsure, Backspace undoes the last answer or skip.
let labels = [];
let items = [];
let busy = false;
let annotator = "";

function show() {
  const item = items[0];
  document.querySelectorAll("#label-buttons button, #skip, #unsure").forEach((b) => {
    b.disabled = !item;
    b.classList.toggle("suggested", !!item && b.dataset.label === item.suggested);
  });
  if (!item) {
    $("meta").textContent = "Nothing to label here: load tweets, or choose another class.";
    $("tweet").textContent = "";
    $("probabilities").textContent = "";
    return;
  }
  $("meta").textContent = `Suggested: ${item.suggested} (margin ${item.margin.toFixed(3)}, model ${item.version})`
    + (item.TweetAt ? ` · ${item.TweetAt}` : "")
    + (item.pair ? ` · overlap: also labelled by ${item.pair.filter((name) => name !== annotator).join(", ")}` : "");
  $("tweet").textContent = item.text;
  $("tweet").dataset.id = item.id;
  $("probabilities").replaceChildren(...labels.map((l) => {
    const line = document.createElement("div");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(200 * item.probabilities[l])}px`;
    line.append(`${l} ${percent(item.probabilities[l])} `, bar);
    return line;
  }));
}

function showCounts(view) {
  const m = view.mine;
  $("mine").textContent = `You (${view.annotator}): ${m.labelled} labelled · ${m.unsure} unsure · `
    + `${m.skipped} skipped · ${m.to_send} to send · ${m.waiting_for_pair} waiting for a second answer · `
    + `${m.disputed} waiting for adjudication · ${m.sent} sent so far`;
  const o = view.overlap;
  $("overlap").textContent = o.on
    ? `Overlap on: ${percent(o.share)} of each load goes to two of ${o.annotators.join(", ")}; `
      + "tweets they answer differently wait for a third person on the Labels page."
    : `Overlap off: ${o.annotators.length ? `one annotator (${o.annotators[0]})` : "no annotators"} configured `
      + "(TWEET_SENTIMENT_ANNOTATORS); every tweet is labelled once.";
}

async function refresh(first = null) {
  const predicted = encodeURIComponent($("filter").value);
  const view = await api(`api/queue?limit=50&predicted=${predicted}`);
  annotator = view.annotator;
  items = view.items;
  if (first && items.some((i) => i.id === first)) {  // an undone tweet is shown again at once
    items = [items.find((i) => i.id === first), ...items.filter((i) => i.id !== first)];
  }
  $("progress").textContent = `done ${view.labelled_unsent} · remaining ${view.remaining}`;
  showCounts(view);
  show();
}

// One answer-changing call (label, unsure, skip, undo); a refusal is shown and the queue re-read.
async function act(path, body, what) {
  if (busy) return;
  busy = true;
  try {
    const result = await api(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    $("notice").textContent = what(result);
    $("notice").className = "muted";
    await refresh(result.undone ? result.item.id : null);
  } catch (error) {
    $("notice").textContent = `Not recorded: ${error.message}`;
    $("notice").className = "error";
    await refresh();
  } finally {
    busy = false;
  }
}

function choose(label) {
  const item = items[0];
  if (!item) return;
  act("api/queue/labels", { id: item.id, label }, (r) => {
    if (label === "Unsure") return "answered unsure: it will not be sent to training";
    return r.label === null ? "recorded: it waits for a second answer (overlap)" : "";
  });
}

function skip() {
  const item = items[0];
  if (item) act("api/queue/skip", { id: item.id }, () => "skipped: the tweet stays for the others");
}

function undo() {
  act("api/queue/undo", {}, (r) => `undid your last ${r.undone}: the tweet is shown again`);
}

async function loadBatches() {
  const { batches } = await api("api/batches");
  $("batches").tBodies[0].replaceChildren(...batches.slice().reverse().map((b) => {
    const row = document.createElement("tr");
    for (const value of [b.file, b.sent_at, b.annotator, b.rows, b.corrected, percent(b.correction_rate),
      b.champion_versions.join(", ")]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    return row;
  }));
}

async function init() {
  ({ labels } = await api("api/labels"));
  labels.forEach((label, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.label = label;
    button.textContent = `${i + 1} ${label}`;
    button.addEventListener("click", () => choose(label));
    $("label-buttons").append(button);
    const option = document.createElement("option");
    option.value = option.textContent = label;
    $("filter").append(option);
  });
  $("filter").addEventListener("change", () => refresh());
  $("skip").addEventListener("click", skip);
  $("unsure").addEventListener("click", () => choose("Unsure"));
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", (event) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) || event.ctrlKey || event.metaKey) return;
    const n = Number(event.key);
    if (n >= 1 && n <= labels.length) { event.preventDefault(); choose(labels[n - 1]); }
    if (event.key === "Enter" && items[0]) { event.preventDefault(); choose(items[0].suggested); }
    if (event.key === "s" || event.key === "S") { event.preventDefault(); skip(); }
    if (event.key === "u" || event.key === "U") { event.preventDefault(); choose("Unsure"); }
    if (event.key === "Backspace") { event.preventDefault(); undo(); }
  });
  $("load-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("load-status").textContent = "loading and pre-annotating…";
    try {
      const report = await api("api/queue/load", { method: "POST", body: new FormData($("load-form")) });
      $("load-status").textContent = `queued ${report.queued} from ${report.source}`
        + (report.from_drifted_window ? ` (${report.from_drifted_window} of them from the drifted window: see Mood)` : "")
        + (report.skipped ? `, skipped ${report.skipped}` : "");
      $("load-status").className = "ok";
      await refresh();
    } catch (error) {
      $("load-status").textContent = error.message;
      $("load-status").className = "error";
    }
  });
  $("send").addEventListener("click", async () => {
    await sendBatch($("send-status"));
    await Promise.all([refresh(), loadBatches()]);
  });
  await Promise.all([refresh(), loadBatches()]);
  window.focus();  // the keys work at once, without a click into the page (it opens in Airflow's iframe)
}

init().catch((error) => { $("meta").textContent = `Error: ${error.message}`; });
