// gifchat's own script: the few things htmx does not do. No inline code anywhere, so the
// page runs under script-src 'self'.
(function () {
  "use strict";

  // The script has no words of its own: the room page renders each text it writes, in the
  // page's language, as data-text-NAME on #room, with {placeholders} for it to fill in.
  function words(name, fields) {
    var room = document.getElementById("room");
    var text = (room && room.getAttribute("data-text-" + name)) || "";
    return text.replace(/\{(\w+)\}/g, function (whole, field) {
      return fields && Object.prototype.hasOwnProperty.call(fields, field) ? String(fields[field]) : whole;
    });
  }

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
    // The fingerprint of the members panel we show: the server sends the panel again only
    // if the room's differs (every fragment that changes the panel updates it).
    var digest = document.getElementById("members-digest");
    if (digest && digest.getAttribute("data-digest")) {
      url.searchParams.set("panel", digest.getAttribute("data-digest"));
    } else {
      url.searchParams.delete("panel");
    }
    conn.url = url.toString();
  });

  document.addEventListener("htmx:ws:close", function (evt) {
    var code = evt.detail && evt.detail.code;
    if (code === 1000 || code === null || code === undefined) return;
    if (code >= 4000) return; // the server sent its own reason as a fragment
    setStatus(words("reconnecting"), "reconnecting");
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

  // ---- Input methods (Hangul, kana, pinyin) ------------------------------------------------
  // The Enter that ends a composition commits the syllable; it must not also send the form,
  // or the text goes out before the IME is done and the IME then writes the syllable again
  // into the emptied field. Browsers differ: Chrome on macOS marks that keydown isComposing,
  // Safari ends the composition first and sends keyCode 229, Windows sends a second, plain
  // Enter right after compositionend. Each of those only commits; the next Enter sends.
  // Sending another way (a click) while a syllable is open commits it first, then sends.
  var composing = false;
  var compositionEnded = -Infinity; // now() at the last compositionend
  var compositionEnter = -Infinity; // now() at the last Enter that belonged to a composition
  function now() { return window.performance ? window.performance.now() : Date.now(); }
  function composingKey(evt) { return composing || evt.isComposing || evt.keyCode === 229; }
  document.addEventListener("compositionstart", function () { composing = true; }, true);
  document.addEventListener("compositionend", function () {
    composing = false;
    compositionEnded = now();
  }, true);
  document.addEventListener("focusout", function () { composing = false; }, true); // a field that goes sends no end
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Enter") return;
    if (!composingKey(evt) && now() - compositionEnded > 30) return;
    compositionEnter = now();
    if (evt.target && evt.target.form) evt.preventDefault(); // no implicit submission
  }, true);
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id === "message-action") return; // the script's own sends, not a keystroke
    if (!composing && now() - compositionEnter > 30) return;
    evt.preventDefault();
    evt.stopImmediatePropagation(); // htmx must not send it either
    if (!composing) return; // the composition's own Enter
    var field = document.activeElement;
    var submitter = evt.submitter && form.contains(evt.submitter) ? evt.submitter : undefined;
    if (field && form.contains(field)) field.blur(); // leaving the field commits the syllable
    composing = false;
    setTimeout(function () {
      if (!form.isConnected) return;
      form.requestSubmit(submitter);
      if (field && field.isConnected) field.focus();
    }, 0);
  }, true);

  // ---- Living messages: edit, delete, react, typing --------------------------------------
  // Small socket actions go through one hidden form (#message-action) that htmx sends as
  // JSON over the room's socket; the server answers by putting the entry's new state in
  // place (or a reason in the status line).
  function sendAction(fields) {
    var form = document.getElementById("message-action");
    if (!form) return false;
    ["action", "seq", "emoji", "text"].forEach(function (name) {
      form.elements[name].value = fields[name] || "";
    });
    form.requestSubmit();
    return true;
  }

  function entryOf(el) { return el.closest && el.closest(".msg[data-seq]"); }

  // Edit in place: the text becomes an input; Enter saves, Escape cancels. Without JS the
  // "Edit message" form opens the edit page instead.
  function startEdit(msg) {
    var textEl = msg.querySelector(".msg-text");
    if (!textEl || msg.querySelector(".msg-edit-inline")) return;
    var form = document.createElement("form");
    form.className = "msg-edit-inline";
    var input = document.createElement("input");
    input.type = "text";
    input.name = "text";
    input.value = textEl.textContent;
    input.setAttribute("aria-label", words("edit-label"));
    var maxlength = document.getElementById("message-input");
    if (maxlength && maxlength.maxLength > 0) input.maxLength = maxlength.maxLength;
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "button primary";
    save.textContent = words("save");
    form.appendChild(input);
    form.appendChild(save);
    textEl.hidden = true;
    textEl.insertAdjacentElement("afterend", form);
    input.focus();
    input.select();
    function cancel() { form.remove(); textEl.hidden = false; }
    form.addEventListener("submit", function (evt) {
      evt.preventDefault();
      if (input.value === textEl.textContent) { cancel(); return; }
      sendAction({ action: "edit", seq: msg.getAttribute("data-seq"), text: input.value });
    });
    input.addEventListener("keydown", function (evt) {
      // Escape while an input method composes cancels the syllable, not the edit.
      if (evt.key === "Escape" && !composingKey(evt)) { evt.preventDefault(); cancel(); }
    });
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var msg = entryOf(form);
    if (!msg || !document.getElementById("message-action")) return;
    if (form.classList.contains("msg-edit-open")) {
      evt.preventDefault();
      startEdit(msg);
    } else if (form.classList.contains("msg-delete-form")) {
      evt.preventDefault();
      sendAction({ action: "delete", seq: msg.getAttribute("data-seq") });
    }
  }, true);

  // Reactions: a reaction under an entry toggles it; "Add reaction" opens the room's picker
  // next to the entry.
  var pickerFor = null;
  function closePicker() {
    var picker = document.getElementById("reaction-picker");
    if (picker) picker.hidden = true;
    pickerFor = null;
  }
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("button");
    var picker = document.getElementById("reaction-picker");
    if (!btn) {
      if (picker && !picker.hidden && !picker.contains(evt.target)) closePicker();
      return;
    }
    if (btn.classList.contains("reaction")) {
      var msg = entryOf(btn);
      if (msg) sendAction({ action: "react", seq: msg.getAttribute("data-seq"), emoji: btn.getAttribute("data-emoji") });
    } else if (btn.classList.contains("reaction-add") && picker) {
      var entry = entryOf(btn);
      if (!entry) return;
      pickerFor = entry.getAttribute("data-seq");
      btn.insertAdjacentElement("afterend", picker);
      picker.hidden = false;
      var first = picker.querySelector("button");
      if (first) first.focus();
    } else if (btn.classList.contains("reaction-pick") && pickerFor) {
      sendAction({ action: "react", seq: pickerFor, emoji: btn.getAttribute("data-emoji") });
      closePicker();
    } else if (picker && !picker.hidden && !picker.contains(btn)) {
      closePicker();
    }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && pickerFor) closePicker();
  });

  // Live entries come without controls (every byte goes to every member): give each entry
  // "Add reaction" and the edit and delete forms (me.css shows those to whom they are for).
  function addTools() {
    var tools = document.getElementById("message-tools");
    var room = document.getElementById("room");
    if (!tools || !room) return;
    var base = "/rooms/" + room.getAttribute("data-room") + "/messages/";
    var items = document.querySelectorAll("#messages > .msg[data-seq]:not([data-tools])");
    for (var i = 0; i < items.length; i++) {
      var msg = items[i];
      msg.setAttribute("data-tools", "");
      var kind = msg.getAttribute("data-kind");
      if (kind === "system" || msg.hasAttribute("data-deleted")) continue;
      var seq = msg.getAttribute("data-seq");
      var foot = msg.querySelector(".msg-foot");
      if (!foot) {
        foot = document.createElement("footer");
        foot.className = "msg-foot";
        msg.appendChild(foot);
      }
      var parts = tools.content.cloneNode(true);
      var reactions = foot.querySelector(".reactions");
      var add = parts.querySelector(".reaction-add");
      if (reactions) {
        reactions.appendChild(add);
        parts.querySelector(".reactions").remove();
      }
      if (!foot.querySelector(".msg-controls")) {
        var edit = parts.querySelector(".msg-edit-open");
        if (kind === "gif") edit.remove();
        else edit.action = base + seq + "/edit";
        parts.querySelector(".msg-delete-form").action = base + seq + "/delete";
      } else {
        parts.querySelector(".msg-controls").remove();
      }
      foot.insertBefore(parts, foot.querySelector(".msg-controls"));
      // Keep the order: reactions, then controls.
      var r = foot.querySelector(".reactions");
      if (r && foot.firstElementChild !== r) foot.insertBefore(r, foot.firstElementChild);
    }
  }
  document.addEventListener("DOMContentLoaded", addTools);
  document.addEventListener("htmx:ws:after:message:incoming", addTools);
  document.addEventListener("htmx:after:swap", addTools);

  // A reaction bar is rendered once for everybody: mark the viewer's own reactions pressed.
  function markPressed() {
    var room = document.getElementById("room");
    var me = room && room.getAttribute("data-me");
    if (!me) return;
    var buttons = document.querySelectorAll(".reaction[data-reactors]");
    for (var i = 0; i < buttons.length; i++) {
      var mine = buttons[i].getAttribute("data-reactors").indexOf(" " + me + " ") >= 0;
      buttons[i].setAttribute("aria-pressed", mine ? "true" : "false");
    }
  }
  document.addEventListener("DOMContentLoaded", markPressed);
  document.addEventListener("htmx:ws:after:message:incoming", function () {
    markPressed();
    // The picker may have lived inside an entry that was just replaced: keep it in the page.
    var picker = document.getElementById("reaction-picker");
    var room = document.getElementById("room");
    if (!picker && room && pickerTemplate) room.appendChild(pickerTemplate);
  });
  var pickerTemplate = null;
  document.addEventListener("DOMContentLoaded", function () {
    pickerTemplate = document.getElementById("reaction-picker");
  });

  // "… is typing": tell the room at most every 3 seconds while the composer changes (not
  // while an input method is still composing a syllable).
  var lastTyping = 0;
  document.addEventListener("input", function (evt) {
    if (evt.target.id !== "message-input" || evt.isComposing) return;
    var now = Date.now();
    if (now - lastTyping < 3000 || !evt.target.value) return;
    lastTyping = now;
    sendAction({ action: "typing" });
  });
  document.addEventListener("htmx:ws:before:message:outgoing", function (evt) {
    // Sending a message ends typing; the next keystroke may signal again at once.
    var form = evt.target;
    if (form && form.id === "message-form") lastTyping = 0;
  });

  // ---- While you were away ----------------------------------------------------------------
  // A hidden tab counts new messages in its title ("(3) Room · GIF chat") and marks where you
  // left off with a "New messages" divider; the count clears when you come back, the divider
  // when you leave again or send.
  var awayFrom = null;
  var baseTitle = document.title;
  var countInTitle = false; // the title is baseTitle with a count, ours to put back
  function unreadSince(seq) {
    var n = 0;
    var items = document.querySelectorAll("#messages > .msg[data-seq]");
    for (var i = items.length - 1; i >= 0; i--) {
      var s = parseInt(items[i].getAttribute("data-seq"), 10);
      if (s <= seq) break;
      var kind = items[i].getAttribute("data-kind");
      if (kind !== "system" && !items[i].hasAttribute("data-deleted")) n++;
    }
    return n;
  }
  function placeDivider(seq) {
    var old = document.getElementById("new-divider");
    if (old) old.remove();
    var items = document.querySelectorAll("#messages > .msg[data-seq]");
    for (var i = 0; i < items.length; i++) {
      if (parseInt(items[i].getAttribute("data-seq"), 10) > seq) {
        var div = document.createElement("div");
        div.id = "new-divider";
        div.className = "new-divider";
        div.setAttribute("role", "separator");
        div.textContent = words("new-messages");
        items[i].insertAdjacentElement("beforebegin", div);
        return;
      }
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.getElementById("messages")) return;
    if (document.visibilityState === "hidden") {
      if (!countInTitle) baseTitle = document.title;
      awayFrom = lastSeq();
      var old = document.getElementById("new-divider");
      if (old) old.remove();
    } else {
      if (countInTitle) document.title = baseTitle;
      countInTitle = false;
      awayFrom = null;
    }
  });
  document.addEventListener("htmx:ws:after:message:incoming", function () {
    if (awayFrom === null || document.visibilityState !== "hidden") return;
    var n = unreadSince(awayFrom);
    var title = n > 0 && words("away-title", { count: n, title: baseTitle });
    if (title) {
      document.title = title;
      countInTitle = true;
      if (!document.getElementById("new-divider")) placeDivider(awayFrom);
    }
  });
  document.addEventListener("htmx:ws:before:message:outgoing", function (evt) {
    if (evt.target && evt.target.id === "message-form") {
      var old = document.getElementById("new-divider");
      if (old) old.remove();
    }
  });
})();
