// gifchat's own script: the few things htmx does not do. No inline code anywhere, so the
// page runs under script-src 'self'.
(function () {
  "use strict";

  // lastSeq is the newest place in the room's log (data-seq) this page shows.
  function lastSeq() {
    var items = document.querySelectorAll("#messages > .msg[data-seq]");
    var max = 0;
    for (var i = items.length - 1; i >= 0 && i >= items.length - 20; i--) {
      var seq = parseInt(items[i].getAttribute("data-seq"), 10);
      if (seq > max) max = seq;
    }
    return max;
  }

  // Before every (re)connect, point the socket URL at the last entry of the log we hold, so
  // the server replays exactly what we missed while disconnected: in order, once.
  // It must not clear the status: htmx fires this event as it schedules a reconnect, right
  // after htmx:ws:close, so clearing here would hide "Reconnecting…" at once. The notice
  // goes when the socket opens (htmx:ws:after:connection below).
  document.addEventListener("htmx:ws:before:connection", function (evt) {
    var conn = evt.detail && evt.detail.connection;
    if (!conn || !conn.url) return;
    var url = new URL(conn.url);
    url.searchParams.set("after", String(lastSeq()));
    conn.url = url.toString();
  });

  document.addEventListener("htmx:ws:close", function (evt) {
    var code = evt.detail && evt.detail.code;
    if (code === 1000 || code === null || code === undefined) return;
    if (code >= 4000) return; // the server sent its own reason as a fragment
    setStatus("Connection lost. Reconnecting…", "reconnecting");
  });

  document.addEventListener("htmx:ws:after:connection", function () {
    setStatus("");
  });

  function setStatus(text, kind) {
    var el = document.getElementById("room-status");
    if (!el) return;
    if (!text) {
      if (el.querySelector(".status-reconnecting")) el.textContent = "";
      return;
    }
    if (el.querySelector(".status-closed")) return;
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "status status-" + kind;
    p.textContent = text;
    el.appendChild(p);
  }

  // Keep the log pinned to the newest message unless the reader scrolled up to read.
  var pinned = true;
  function log() { return document.getElementById("log"); }
  document.addEventListener("scroll", function (evt) {
    var l = log();
    if (evt.target !== l) return;
    pinned = l.scrollHeight - l.scrollTop - l.clientHeight < 40;
  }, true);
  document.addEventListener("htmx:ws:after:message:incoming", function () {
    var l = log();
    if (l && pinned) l.scrollTop = l.scrollHeight;
  });
  document.addEventListener("DOMContentLoaded", function () {
    var l = log();
    if (l) l.scrollTop = l.scrollHeight;
  });
})();
