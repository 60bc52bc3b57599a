// The mood page: the stacked-area chart, who scored it, the drift figures against their thresholds and reference,
// example tweets of the window, the champion changes. Every text goes in through textContent.
function td(content) {
  const cell = document.createElement("td");
  cell.textContent = content ?? "";
  return cell;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map((c) => (c instanceof Node ? c : td(c))));
  return tr;
}

function shares(s) {
  return s ? Object.entries(s).map(([label, p]) => `${label} ${percent(p)}`).join(" · ") : "";
}

function span(from, to, rows) {
  return `${rows.toLocaleString()} tweets, ${from ?? "?"} … ${to ?? "?"}`;
}

function crossed(flag) {
  const cell = td(flag ? "yes" : "no");
  cell.className = flag ? "error" : "ok";
  return cell;
}

function renderDrift(drift) {
  if (!drift) { $("drift-status").textContent = "no drift check yet"; return; }
  $("drift-status").textContent = drift.status === "waiting" ? "waiting" : (drift.drifted ? "DRIFT" : "no drift");
  $("drift-status").className = `badge ${drift.drifted ? "badge-drift" : "badge-calm"}`;
  $("drift-checked").textContent = `checked ${drift.checked_at} with champion ${drift.champion_version}`
    + (drift.reason ? ` · ${drift.reason}` : "");
  const ref = drift.reference;
  $("drift-reference").textContent = `${ref.kind}: ${ref.description} (${span(ref.from, ref.to, ref.rows)})`;
  $("drift-window").textContent = `${drift.window.description} (${span(drift.window.from, drift.window.to,
    drift.window.rows)})`;
  const rows = [];
  if (drift.status === "checked") {
    const e = drift.embedding, m = drift.class_mix, c = drift.confidence;
    rows.push(row("embedding drift: ROC AUC", e.auc.toFixed(3), `> ${e.threshold}`, crossed(e.drifted), e.method));
    rows.push(row("predicted class mix: Jensen–Shannon", m.js.toFixed(3), `> ${m.threshold}`, crossed(m.drifted),
      `reference ${shares(m.reference_shares)} | window ${shares(m.window_shares)}`));
    rows.push(row("mean confidence drop", c.drop.toFixed(3), `> ${c.threshold}`, crossed(c.drifted),
      `reference ${c.reference_mean.toFixed(3)}, window ${c.window_mean.toFixed(3)}`));
  }
  $("drift-figures").tBodies[0].replaceChildren(...rows);
  $("examples").tBodies[0].replaceChildren(...(drift.examples || []).map((x) => row(x.text, x.label,
    x.confidence.toFixed(3), `${x.tweet_at}${x.dated_by === "arrival" ? " (arrival)" : ""}`)));
  $("drift-history").tBodies[0].replaceChildren(...drift.history.map((h) => row(h.checked_at, h.reference,
    h.window_to, h.auc?.toFixed(3) ?? "–", h.js?.toFixed(3) ?? "–", h.confidence_drop?.toFixed(3) ?? "–",
    h.status === "waiting" ? "waiting" : (h.drifted ? "DRIFT" : "no"))));
}

async function render() {
  const mood = await api("api/mood");
  $("champion").textContent = mood.champion ?? "none yet";
  $("scored-by").textContent = mood.scored_by ?? "nobody yet";
  $("summary").textContent = `${mood.rows.toLocaleString()} tweets scored, ${mood.points_total} points`
    + ` (an hour is a point with at least ${mood.hourly_min_tweets ?? "?"} tweets)`
    + (mood.arrival_dated ? ` · ${mood.arrival_dated} dated by their arrival (no readable date)` : "")
    + (mood.updated_at ? ` · updated ${mood.updated_at}` : "");
  if (mood.rescoring_pending) {
    $("pending").hidden = false;
    $("pending").textContent = `${mood.rescoring_pending_rows.toLocaleString()} tweets still to re-score by the `
      + `champion ${mood.champion}: each scoring run re-scores a bounded chunk, newest first, after the new tweets.`;
  }
  $("coverage").tBodies[0].replaceChildren(...(mood.coverage || []).map((c) => row(c.version,
    c.rows.toLocaleString(), `${(100 * c.share).toFixed(1)} %`)));
  if (mood.chart) {
    const img = document.createElement("img");
    img.id = "mood-chart";
    img.className = "chart";
    img.alt = "predicted class shares over time";
    img.src = `api/mood/chart.png?at=${encodeURIComponent(mood.updated_at ?? "")}`;
    $("chart").replaceChildren(img);
  }
  renderDrift(mood.drift);
  $("changes").tBodies[0].replaceChildren(...mood.champion_changes.map((c) => row(c.at, c.version, c.action ?? "",
    c.reason ?? "", c.frontier ?? "(first scores)", c.rows)));
  $("points").tBodies[0].replaceChildren(...mood.points.map((p) => row(`${p.period} (${p.resolution})`, p.n,
    shares(p.shares), p.mean_confidence.toFixed(3), p.annotated ? `${shares(p.annotated.shares)} (${p.annotated.n})` : "",
    p.arrival_dated || "", p.champion_version)));
}

render().catch((error) => { $("champion").textContent = `Error: ${error.message}`; });

// Alerts: one card per episode, its words with z-scores and example tweets, acknowledge and mute buttons.
let olderThan = null;

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

function wordsTable(words) {
  const table = element("table");
  table.className = "alert-words";
  const head = table.createTHead().insertRow();
  for (const title of ["word", "z-score", "example tweets"]) head.append(element("th", title));
  const body = table.createTBody();
  for (const w of words) {
    const examples = element("td");
    examples.append(...w.examples.map((x) => element("div", x)));
    body.append(row(w.word, w.z.toFixed(1), examples));
  }
  return table;
}

async function act(path, options, card, episode) {
  try {
    await api(path, { method: "POST", ...options });
    const page = await api(`api/alerts?limit=1&before=${episode.id + 1}`);
    card.replaceWith(alertCard(page.episodes[0]));
    $("alert-status").textContent = "";
  } catch (error) {
    $("alert-status").textContent = error.message;
    $("alert-status").className = "error";
  }
}

function alertCard(e) {
  const card = element("section", undefined, "card alert");
  card.id = `alert-${e.id}`;
  const state = element("span", e.open ? "OPEN" : "ended", `badge ${e.open ? "badge-drift" : "badge-calm"}`);
  const title = element("div");
  title.append(state, " ", element("strong", e.headline));
  card.append(title, element("div", `began ${e.began_at}` + (e.ended_at ? ` · ended ${e.ended_at}` : "")
    + ` · raised by ${e.alerts} check(s)`, "muted"), element("div", e.summary));
  if (e.alert.words) card.append(wordsTable(e.alert.words));
  const ack = element("div", undefined, "alert-ack");
  if (e.acked_by) {
    ack.textContent = `acknowledged by ${e.acked_by} at ${e.acked_at}`;
  } else {
    const button = element("button", "Acknowledge");
    button.className = "ack";
    button.addEventListener("click", () => act(`api/alerts/${e.id}/ack`, {}, card, e));
    ack.append(button);
  }
  const muted = element("div", undefined, "alert-mute");
  if (e.muted_by) {
    muted.textContent = `${e.episode_key} muted by ${e.muted_by} until ${e.muted_until}`;
  } else {
    const button = element("button", "Mute 24 h");
    button.className = "mute";
    button.addEventListener("click", () => act("api/alerts/mute", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ episode_key: e.episode_key, hours: 24 }) }, card, e));
    muted.append(button);
  }
  card.append(ack, muted);
  return card;
}

async function renderAlerts(first) {
  const page = await api(`api/alerts${olderThan ? `?before=${olderThan}` : ""}`);
  const cards = page.episodes.map(alertCard);
  if (first && cards.length) $("alerts").replaceChildren(...cards);
  else $("alerts").append(...cards);
  olderThan = page.next_before;
  $("alerts-older").hidden = olderThan === null;
}

$("alerts-older").addEventListener("click", () => renderAlerts(false));
renderAlerts(true).catch((error) => { $("alert-status").textContent = `Error: ${error.message}`; });
