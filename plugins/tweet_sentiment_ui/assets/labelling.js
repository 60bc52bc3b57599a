// The labelling queue: one tweet at a time, most uncertain first; keys 1-5 pick a label, Enter accepts.
let labels = [];
let items = [];
let busy = false;

function show() {
  const item = items[0];
  document.querySelectorAll("#label-buttons button").forEach((b) => {
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
    + (item.TweetAt ? ` · ${item.TweetAt}` : "");
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

async function refresh() {
  const predicted = encodeURIComponent($("filter").value);
  const view = await api(`api/queue?limit=50&predicted=${predicted}`);
  items = view.items;
  $("progress").textContent = `done ${view.labelled_unsent} · remaining ${view.remaining}`;
  show();
}

async function choose(label) {
  const item = items[0];
  if (!item || busy) return;
  busy = true;
  try {
    await api("api/queue/labels", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: item.id, label }),
    });
    await refresh();
  } catch (error) {
    $("meta").textContent = `Could not record the label: ${error.message}`;
  } finally {
    busy = false;
  }
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
  $("filter").addEventListener("change", refresh);
  document.addEventListener("keydown", (event) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) || event.ctrlKey || event.metaKey) return;
    const n = Number(event.key);
    if (n >= 1 && n <= labels.length) { event.preventDefault(); choose(labels[n - 1]); }
    if (event.key === "Enter" && items[0]) { event.preventDefault(); choose(items[0].suggested); }
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
    try {
      const batch = await api("api/queue/send", { method: "POST" });
      $("send-status").textContent = `sent ${batch.rows} rows as ${batch.file} `
        + `(corrected ${batch.corrected}, ${percent(batch.correction_rate)}); `
        + (batch.asset_event ? "a retrain run starts now" : "the next scheduled run learns it");
      $("send-status").className = "ok";
      await Promise.all([refresh(), loadBatches()]);
    } catch (error) {
      $("send-status").textContent = error.message;
      $("send-status").className = "error";
    }
  });
  await Promise.all([refresh(), loadBatches()]);
}

init().catch((error) => { $("meta").textContent = `Error: ${error.message}`; });
