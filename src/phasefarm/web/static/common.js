"use strict";
// Helpers shared by the runs page and the run page. No framework, no build step.
window.pf = {
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  },
  seconds(s) {
    return s === null || s === undefined ? "-" : `${Number(s).toFixed(1)} s`;
  },
  tokens(n) {
    return Math.round(n || 0).toLocaleString("en");
  },
  cost(c) {
    return `$${Number(c || 0).toFixed(4)}`;
  },
  cut(text, n) {
    if (!text) return "";
    return text.length > n ? `${text.slice(0, n - 1)}…` : text;
  },
  // fetch JSON from the API (same origin: the token cookie goes along); errors carry the
  // server's one-line reason
  async api(path, options) {
    const response = await fetch(path, { credentials: "same-origin", ...(options || {}) });
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      const reason = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      throw new Error(reason);
    }
    return body;
  },
};
