// Shared by the pages: element lookup, JSON calls to the plugin's API (relative URLs, the session cookie), sending.
"use strict";
const $ = (id) => document.getElementById(id);

// Every call carries X-Requested-With: the plugin refuses a change without it or a JSON body (a plain form from
// another site cannot set it), so an upload or a body-less POST (send, undo) needs it.
async function api(path, options = {}) {
  const headers = { "X-Requested-With": "tweet-sentiment-ui", ...(options.headers || {}) };
  const response = await fetch(path, { credentials: "same-origin", ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail ? JSON.stringify(body.detail) : `HTTP ${response.status}`);
  return body;
}

function percent(p) { return `${(100 * p).toFixed(1)}%`; }

function sendSummary(batch) {
  const unsure = batch.unsure_set_aside ? `; ${batch.unsure_set_aside} unsure set aside, not sent` : "";
  if (!batch.file) return `nothing sent to training${unsure}`;
  return `sent ${batch.rows} rows as ${batch.file} (corrected ${batch.corrected}, ${percent(batch.correction_rate)})`
    + `${unsure}; ${batch.asset_event ? "a retrain run starts now" : "the next scheduled run learns it"}`;
}

// "Send batch" on the labelling and Labels pages: the caller's decided tweets to the inbox as one CSV.
async function sendBatch(status) {
  try {
    const batch = await api("api/queue/send", { method: "POST" });
    status.textContent = sendSummary(batch);
    status.className = "ok";
    return batch;
  } catch (error) {
    status.textContent = error.message;
    status.className = "error";
    return null;
  }
}
