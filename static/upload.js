// upload.js: GIF uploads with a progress bar, which htmx 4 cannot show (fetch reports no
// upload progress). A GIF picked with "Upload GIF", dropped on the room or pasted uploads at
// once; the message itself then arrives over the room's socket like any other, so this script
// only ever writes the uploader's own progress and status area. No inline code anywhere: the
// page runs under script-src 'self'.
(function () {
  "use strict";

  var current = null; // the upload in flight: one at a time

  function byId(id) { return document.getElementById(id); }

  // The script has no words of its own: the upload form carries each text it writes, in the
  // page's language, as data-text-NAME, with {placeholders} for it to fill in.
  function words(name, fields) {
    var form = byId("gif-form");
    var text = (form && form.getAttribute("data-text-" + name)) || "";
    return text.replace(/\{(\w+)\}/g, function (whole, field) {
      return fields && Object.prototype.hasOwnProperty.call(fields, field) ? String(fields[field]) : whole;
    });
  }

  function humanBytes(n) {
    if (n >= 1048576) return words("mib", { n: (n / 1048576).toFixed(n % 1048576 === 0 ? 0 : 1) });
    if (n >= 1024) return words("kib", { n: Math.round(n / 1024) });
    return words("bytes", { n: n });
  }

  // showStatus writes one line into #gif-status; text only, never markup from anywhere.
  function showStatus(text, kind) {
    var box = byId("gif-status");
    if (!box) return;
    box.textContent = "";
    if (!text) return;
    var p = document.createElement("p");
    p.className = "gif-message gif-" + kind;
    p.setAttribute("data-gif-status", kind);
    if (kind === "error") p.setAttribute("role", "alert");
    p.textContent = text;
    box.appendChild(p);
  }

  // showProgress shows the bar at pct (not a number: indeterminate) or hides it.
  function showProgress(on, pct, label) {
    var row = byId("gif-progress");
    var bar = byId("gif-progress-bar");
    var text = byId("gif-progress-text");
    if (!row) return;
    row.hidden = !on;
    if (bar) {
      if (!on) bar.value = 0;
      else if (typeof pct !== "number") bar.removeAttribute("value"); // indeterminate
      else bar.value = pct;
    }
    if (text) text.textContent = label || "";
  }

  // reasonFrom finds the server's reason in a refusal: our status fragment, or the text of a
  // whole error page (e.g. the 413 answered before the handler ran).
  function reasonFrom(xhr) {
    var text = "";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var node = doc.querySelector("[data-gif-status], .error-message, .field-error");
      if (node) text = node.textContent.trim();
    } catch (e) { /* fall through to the generic reason */ }
    if (text) return text;
    if (xhr.status === 413) return words("too-large");
    return words("failed", { status: xhr.status });
  }

  function upload(file) {
    var form = byId("gif-form");
    if (!form || !file) return; // no form: the room has closed
    if (current) {
      showStatus(words("busy"), "error");
      return;
    }
    // Refuse early what the server would refuse anyway, without sending megabytes first.
    // The server checks everything again; these are only the cheap, certain cases.
    if (file.type && file.type !== "image/gif") {
      showStatus(words("not-gif"), "error");
      return;
    }
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (max > 0 && file.size > max) {
      showStatus(words("too-big", { size: humanBytes(file.size), max: humanBytes(max) }), "error");
      return;
    }
    var name = file.name || "pasted.gif";
    var data = new FormData();
    // In whisper mode the GIF is whispered too, to the composer's recipient.
    var to = document.querySelector('#message-form input[name="to"]');
    if (to && to.value) data.append("to", to.value);
    data.append("gif", file, name);

    var xhr = new XMLHttpRequest();
    current = xhr;
    function finish() {
      if (current === xhr) current = null;
      showProgress(false);
    }
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.timeout = 5 * 60 * 1000;
    xhr.upload.addEventListener("progress", function (evt) {
      if (!evt.lengthComputable) {
        showProgress(true, null, words("uploading", { name: name }));
        return;
      }
      var pct = Math.floor((evt.loaded * 100) / evt.total);
      showProgress(true, pct, words("progress", { name: name, percent: pct }));
    });
    xhr.upload.addEventListener("load", function () {
      showProgress(true, null, words("posting", { name: name }));
    });
    xhr.addEventListener("load", function () {
      finish();
      if (xhr.status >= 200 && xhr.status < 300) {
        showStatus("", "");
        return;
      }
      showStatus(reasonFrom(xhr), "error");
    });
    xhr.addEventListener("error", function () {
      finish();
      showStatus(words("connection-lost"), "error");
    });
    xhr.addEventListener("timeout", function () {
      finish();
      showStatus(words("timeout"), "error");
    });
    xhr.addEventListener("abort", function () {
      finish();
      showStatus(words("cancelled"), "info");
    });
    showStatus("", "");
    showProgress(true, 0, words("progress", { name: name, percent: 0 }));
    xhr.send(data);
  }

  // Picking: upload at once, then clear the input so picking the same file again is a change.
  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!input || input.id !== "gif-input") return;
    var file = input.files && input.files[0];
    input.value = "";
    upload(file);
  });

  // The no-JS submit button is hidden with JS on; Enter or an assistive tech can still submit.
  document.addEventListener("submit", function (evt) {
    if (!evt.target || evt.target.id !== "gif-form") return;
    evt.preventDefault();
    var input = byId("gif-input");
    var file = input && input.files && input.files[0];
    if (input) input.value = "";
    if (file) upload(file);
  });

  document.addEventListener("click", function (evt) {
    var btn = evt.target && evt.target.closest && evt.target.closest("#gif-cancel");
    if (btn && current) current.abort();
  });

  // Dropping a file anywhere on the room uploads it.
  function hasFiles(evt) {
    var types = evt.dataTransfer && evt.dataTransfer.types;
    if (!types) return false;
    for (var i = 0; i < types.length; i++) if (types[i] === "Files") return true;
    return false;
  }
  function roomFor(evt) {
    var room = byId("room");
    if (!room || !byId("gif-form") || !hasFiles(evt)) return null;
    return room.contains(evt.target) ? room : null;
  }
  document.addEventListener("dragover", function (evt) {
    var room = roomFor(evt);
    if (!room) return;
    evt.preventDefault(); // allows the drop
    evt.dataTransfer.dropEffect = "copy";
    room.classList.add("gif-drop");
  });
  document.addEventListener("dragleave", function (evt) {
    var room = byId("room");
    if (room && (!evt.relatedTarget || !room.contains(evt.relatedTarget))) room.classList.remove("gif-drop");
  });
  document.addEventListener("drop", function (evt) {
    var room = roomFor(evt);
    if (!room) return;
    evt.preventDefault(); // or the browser navigates to the dropped file
    room.classList.remove("gif-drop");
    var files = evt.dataTransfer.files;
    if (!files || files.length === 0) return;
    if (files.length > 1) {
      showStatus(words("one-at-a-time"), "error");
      return;
    }
    upload(files[0]);
  });

  // Pasting a GIF (e.g. "Copy image" in a browser, or a copied file) uploads it. A paste that
  // also carries text is left alone, so pasting into the message field works as usual.
  document.addEventListener("paste", function (evt) {
    if (!byId("gif-form")) return;
    var cd = evt.clipboardData;
    if (!cd || !cd.files || cd.files.length === 0) return;
    var gif = null;
    for (var i = 0; i < cd.files.length; i++) {
      if (cd.files[i].type === "image/gif") { gif = cd.files[i]; break; }
    }
    var hasText = false;
    for (var j = 0; j < cd.types.length; j++) if (cd.types[j] === "text/plain") hasText = true;
    if (!gif && hasText) return;
    evt.preventDefault();
    upload(gif || cd.files[0]);
  });
})();
