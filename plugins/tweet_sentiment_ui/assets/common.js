// Shared by the pages: element lookup and JSON calls to the plugin's API (relative URLs, the session cookie).
"use strict";
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail ? JSON.stringify(body.detail) : `HTTP ${response.status}`);
  return body;
}

function percent(p) { return `${(100 * p).toFixed(1)}%`; }
