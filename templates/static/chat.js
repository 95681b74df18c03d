/* 信用代证助手 web chat. A thin client of POST /api/chat: it renders replies and never decides
   anything itself, so the web page, the mini-program and the tests see the same conversation.

   Delivery: every message gets a msg_id once; a network failure or a 5xx is retried with the
   SAME msg_id (the server answers a repeated id with the same replies and does nothing twice).
   Messages are sent one after another so the server sees them in the order the user wrote them. */
(() => {
  "use strict";

  const USER_KEY = "creditbot.user";
  const HISTORY_KEY = "creditbot.history";
  const HISTORY_LIMIT = 200;
  const RETRY_DELAYS_MS = [600, 1200, 2500, 5000, 8000];
  const REQUEST_TIMEOUT_MS = 45000;
  const OUTBOX_POLL_MS = 2000;
  /** A long multi-select (all 40 domains) starts folded so the question stays on the phone screen. */
  const CHIPS_SHOWN = 12;

  const demo = document.body.dataset.demo === "true";
  const chat = document.getElementById("chat");
  const list = document.getElementById("messages");
  const typing = document.getElementById("typing");
  const form = document.getElementById("inputbar");
  const input = document.getElementById("input");

  /* ---------- storage that survives private mode ---------- */
  function storage(kind) {
    const memory = new Map();
    return {
      get(key) {
        try { return window[kind].getItem(key); } catch { return memory.get(key) ?? null; }
      },
      set(key, value) {
        try { window[kind].setItem(key, value); } catch { memory.set(key, value); }
      },
    };
  }
  /** The anonymous user id outlives the tab, so the server-side conversation does too. */
  const store = storage("localStorage");
  /** The transcript holds what was typed (ID number tails, codes): it survives a reload but not
      closing the tab, so a shared phone does not keep it. */
  const tabStore = storage("sessionStorage");

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // randomUUID needs a secure context; a demo opened over plain http on a LAN IP has only this.
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function userId() {
    let id = store.get(USER_KEY);
    if (!id) {
      id = `web-${uuid()}`;
      store.set(USER_KEY, id);
    }
    return id;
  }

  /* ---------- small DOM helpers ---------- */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  /** Only http(s) URLs (absolute or relative to the page) become links or images: a reply can never
      inject javascript: or data: content. */
  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function scrollToEnd() {
    chat.scrollTop = chat.scrollHeight;
  }

  function messageRow(from, ...content) {
    const avatar = el("div", { class: "avatar", "aria-hidden": "true", text: from === "user" ? "我" : "信" });
    const who = el("p", { class: "sr-only", text: from === "user" ? "我：" : "助手：" });
    const row = el("li", { class: `msg msg--${from}` }, avatar, el("div", { class: "msg__body" }, who, ...content));
    list.append(row);
    scrollToEnd();
    return row;
  }

  function textBubble(text) {
    return el("div", { class: "bubble", text: text ?? "" });
  }

  /** Earlier buttons would act on a step the conversation has left; the server would answer them,
      but the page should not invite it. */
  function deactivateInteractive() {
    for (const button of list.querySelectorAll(".options button, .chips button")) button.disabled = true;
  }

  /* ---------- history, so a reload shows the conversation the server still holds ---------- */
  let transcript = [];
  try { transcript = JSON.parse(tabStore.get(HISTORY_KEY) || "[]"); } catch { transcript = []; }
  if (!Array.isArray(transcript)) transcript = [];

  function remember(entry) {
    transcript.push(entry);
    if (transcript.length > HISTORY_LIMIT) transcript = transcript.slice(-HISTORY_LIMIT);
    tabStore.set(HISTORY_KEY, JSON.stringify(transcript));
  }

  /* ---------- reply renderers ---------- */
  function renderChoices(reply) {
    const group = el("div", { class: "options", role: "group", "aria-label": reply.text || "请选择" });
    for (const option of reply.options || []) {
      group.append(el("button", {
        type: "button",
        class: "option",
        text: option.label,
        onclick: (event) => {
          event.currentTarget.classList.add("is-chosen");
          send({ action: option.action, label: option.label });
        },
      }));
    }
    return [textBubble(reply.text), group];
  }

  /** The action a multi-select sends: the selected options' own actions joined with "|" (the
      separator the chat API splits on), so the server needs no second vocabulary for the page. */
  function multiAction(options) {
    return options.map((option) => option.action).join("|");
  }

  function renderMulti(reply) {
    const options = reply.options || [];
    const selected = new Set();
    const count = el("span", { class: "chips__hint", "aria-live": "polite", text: "可多选，选好后点“确定”" });
    const confirm = el("button", { type: "button", class: "confirm", text: "确定", disabled: true });
    const chipList = el("div", { class: "options", role: "group", "aria-label": reply.text || "可多选" });

    function refresh() {
      confirm.disabled = selected.size === 0;
      confirm.textContent = selected.size ? `确定（${selected.size}）` : "确定";
      count.textContent = selected.size ? `已选 ${selected.size} 项` : "可多选，选好后点“确定”";
    }

    options.forEach((option, index) => {
      if (index === CHIPS_SHOWN && options.length > CHIPS_SHOWN + 2) {
        chipList.append(el("button", {
          type: "button",
          class: "chip-more",
          text: `展开全部 ${options.length} 项`,
          onclick: (event) => {
            for (const chip of chipList.querySelectorAll(".chip[hidden]")) chip.hidden = false;
            event.currentTarget.remove();
          },
        }));
      }
      chipList.append(el("button", {
        hidden: index >= CHIPS_SHOWN && options.length > CHIPS_SHOWN + 2,
        type: "button",
        class: "chip",
        "aria-pressed": "false",
        text: option.label,
        onclick: (event) => {
          const chip = event.currentTarget;
          if (selected.has(index)) selected.delete(index); else selected.add(index);
          chip.setAttribute("aria-pressed", String(selected.has(index)));
          refresh();
        },
      }));
    });
    confirm.addEventListener("click", () => {
      const chosen = options.filter((_, index) => selected.has(index));
      if (!chosen.length) return;
      send({ action: multiAction(chosen), label: chosen.map((option) => option.label).join("、") });
    });
    const box = el("div", { class: "chips" }, chipList, el("div", { class: "chips__actions" }, count, confirm));
    return [textBubble(reply.text), box];
  }

  let qrCounter = 0;
  function renderReport(reply) {
    const pdf = safeUrl(reply.pdf_url);
    const verify = safeUrl(reply.verify_url);
    const qr = safeUrl(reply.qr_url);
    const reportNo = reply.report_no || "";
    const actions = el("div", { class: "report__actions" });
    if (pdf) {
      actions.append(el("a", {
        class: "action action--primary", href: pdf, download: `${reportNo || "信用报告"}.pdf`, text: "下载PDF",
      }));
    }
    if (verify) {
      actions.append(el("a", {
        class: "action", href: verify, target: "_blank", rel: "noopener", text: "在线核验",
      }));
    }
    let qrPanel = null;
    if (qr) {
      qrCounter += 1;
      const panelId = `qr-${qrCounter}`;
      const image = el("img", { alt: `报告 ${reportNo} 的核验二维码`, width: "180", height: "180" });
      image.addEventListener("load", scrollToEnd);
      qrPanel = el("div", { class: "report__qr", id: panelId, hidden: true },
        image, el("p", { text: "用手机扫码，即可核验报告真伪" }));
      actions.append(el("button", {
        type: "button",
        class: "action",
        "aria-expanded": "false",
        "aria-controls": panelId,
        text: "二维码",
        onclick: (event) => {
          const open = qrPanel.hidden;
          if (open && !image.getAttribute("src")) image.src = qr;
          qrPanel.hidden = !open;
          event.currentTarget.setAttribute("aria-expanded", String(open));
          event.currentTarget.textContent = open ? "收起二维码" : "二维码";
          if (open) scrollToEnd();
        },
      }));
    }
    const head = el("div", { class: "report__head" },
      el("div", { class: "report__seal", "aria-hidden": "true", text: "信用\n报告" }),
      el("div", {},
        el("p", { class: "report__title", text: "专项信用报告" }),
        el("p", { class: "report__no", text: `报告编号 ${reportNo}` })));
    const card = el("article", { class: "report", "aria-label": `专项信用报告 ${reportNo}` },
      head, reply.text ? el("p", { class: "report__text", text: reply.text }) : null, actions, qrPanel);
    return [card];
  }

  function renderImage(reply) {
    const src = safeUrl(reply.url);
    if (!src) return [textBubble(reply.text)];
    const figure = el("figure", { class: "figure" },
      el("img", { src, alt: reply.text || "图片", loading: "lazy" }),
      reply.text ? el("figcaption", { text: reply.text }) : null);
    return [el("div", { class: "bubble" }, figure)];
  }

  function renderLink(reply) {
    const href = safeUrl(reply.url);
    const bubble = textBubble(reply.text);
    if (href) {
      bubble.append(el("br"), el("a", {
        class: "link", href, target: "_blank", rel: "noopener",
        "aria-label": `打开链接：${reply.text || href}`, text: "打开链接",
      }));
    }
    return [bubble];
  }

  const RENDERERS = {
    text: (reply) => [textBubble(reply.text)],
    choices: (reply) => (reply.multi ? renderMulti(reply) : renderChoices(reply)),
    report: renderReport,
    image: renderImage,
    link: renderLink,
  };

  function renderReply(reply) {
    const render = RENDERERS[reply && reply.type] || RENDERERS.text;
    const row = messageRow("bot", ...render(reply || {}));
    // Cards and chip lists take the full width instead of shrinking to their text.
    if (reply && (reply.type === "report" || (reply.type === "choices" && reply.multi))) {
      row.classList.add("msg--wide");
    }
  }

  function renderUser(text) {
    return messageRow("user", textBubble(text));
  }

  function renderError(text) {
    messageRow("error", textBubble(text)).querySelector(".avatar").textContent = "!";
  }

  /* ---------- sending ---------- */
  let queue = Promise.resolve();
  let pending = 0;

  function setTyping(on) {
    typing.hidden = !on;
    if (on) scrollToEnd();
  }

  function sleep(ms) {
    return new Promise((resolve) => { window.setTimeout(resolve, ms); });
  }

  function politeError(status, body) {
    const message = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
    // Server messages meant for people are Chinese; anything else is for developers, not users.
    const readable = /[\u4e00-\u9fff]/.test(message) ? message : "";
    if (status === 400 || status === 422) {
      return readable ? `抱歉，这条消息没能处理：${readable}` : "抱歉，这条消息没能处理，请换个说法再试一次。";
    }
    if (status === 401 || status === 403) return readable ? `抱歉，${readable}` : "抱歉，请先登录后再使用。";
    if (status === 413) return "抱歉，消息太长了，请精简后再发送。";
    return readable ? `抱歉，${readable}` : "抱歉，服务暂时不可用，请稍后再试。";
  }

  function retryable(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  async function post(request) {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(request),
        signal: controller.signal,
        credentials: "same-origin",
      });
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      return { status: response.status, body };
    } finally {
      window.clearTimeout(timer);
    }
  }

  function setStatus(row, text, failed = false) {
    let status = row.querySelector(".msg__status");
    if (!text) {
      if (status) status.remove();
      return;
    }
    if (!status) {
      status = el("p", { class: "msg__status" });
      row.querySelector(".msg__body").append(status);
    }
    status.className = failed ? "msg__status msg__status--failed" : "msg__status";
    status.textContent = text;
  }

  async function deliver(request, row) {
    for (let attempt = 0; ; attempt += 1) {
      let result = null;
      try {
        result = await post(request);
      } catch {
        result = null; // network failure or timeout: the server may or may not have seen it
      }
      if (result && result.status >= 200 && result.status < 300) {
        setStatus(row, "");
        const replies = result.body && Array.isArray(result.body.replies) ? result.body.replies : [];
        for (const reply of replies) {
          renderReply(reply);
          remember({ from: "bot", reply });
        }
        if (demo) pollOutbox(); // a reply may just have sent a code: show it without waiting for the timer
        return;
      }
      if (result && !retryable(result.status)) {
        setStatus(row, "");
        const text = politeError(result.status, result.body);
        renderError(text);
        remember({ from: "error", text });
        return;
      }
      if (attempt >= RETRY_DELAYS_MS.length) {
        setStatus(row, "网络不稳定，消息未送达。", true);
        row.querySelector(".msg__status").append(el("button", {
          type: "button",
          class: "retry",
          text: "重新发送",
          onclick: (event) => {
            event.currentTarget.disabled = true;
            setStatus(row, "正在重新发送…");
            enqueue(request, row);
          },
        }));
        return;
      }
      setStatus(row, "网络不稳定，正在重试…");
      await sleep(RETRY_DELAYS_MS[attempt]);
    }
  }

  function enqueue(request, row) {
    pending += 1;
    setTyping(true);
    queue = queue.then(() => deliver(request, row)).catch(() => {
      renderError("抱歉，页面出了点问题，请刷新后重试。");
    }).finally(() => {
      pending -= 1;
      if (pending === 0) setTyping(false);
    });
  }

  /** `label` is what the user sees in their own bubble: the option text rather than its action payload. */
  function send({ text, action, label }) {
    const request = { user: userId(), msg_id: uuid() };
    if (action !== undefined) request.action = action; else request.text = text;
    deactivateInteractive();
    const shown = label ?? text ?? "";
    const row = renderUser(shown);
    remember({ from: "user", text: shown });
    enqueue(request, row);
  }

  /* ---------- demo SMS banner ---------- */
  /** GET /dev/outbox?user= answers {"messages": [{"id", "channel", "phone" (masked), "text", "sent_at"}]},
      oldest first, narrowed to the business this user is verifying. */
  function smsCode(message) {
    const match = /\d{6}/.exec(String(message.text || ""));
    return match ? match[0] : "";
  }

  /** Beijing time whatever the phone's zone; a stamp without a zone is UTC, as the database stores it. */
  function smsTime(stamp) {
    if (typeof stamp !== "string" || !stamp) return "";
    const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(stamp) ? stamp : `${stamp}Z`;
    const when = new Date(zoned);
    if (Number.isNaN(when.getTime())) return "";
    return when.toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
  }

  let lastOutbox = "";
  async function pollOutbox() {
    if (document.visibilityState === "hidden") return;
    let body;
    try {
      const response = await fetch(`/dev/outbox?user=${encodeURIComponent(userId())}`, {
        headers: { Accept: "application/json" }, cache: "no-store",
      });
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return;
    }
    const serialized = JSON.stringify(body);
    if (serialized === lastOutbox) return;
    lastOutbox = serialized;
    const box = document.getElementById("demo-sms");
    const messages = body && Array.isArray(body.messages) ? body.messages : [];
    // Only the newest code: an older one has been replaced and would only invite a wrong answer.
    const latest = messages.filter((message) => message.channel === "sms").slice(-1);
    box.replaceChildren();
    for (const item of latest) {
      const code = smsCode(item);
      const phone = item.phone || "";
      const time = smsTime(item.sent_at);
      box.append(el("div", { class: "sms", "data-code": code },
        el("span", { class: "sms__meta", text: phone ? `发往 ${phone}` : "短信" }),
        el("span", { class: "sms__code", text: code || item.text || "" }),
        time ? el("span", { class: "sms__meta sms__time", text: time }) : null,
        code ? el("button", {
          type: "button", class: "sms__fill", text: "填入", "aria-label": `把验证码 ${code} 填入输入框`,
          onclick: () => { input.value = code; input.focus(); },
        }) : null));
    }
  }

  /* ---------- wiring ---------- */
  // Enter that commits a pinyin candidate must not also send the half-typed message.
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text, label: text });
  });

  for (const button of document.querySelectorAll("[data-text]")) {
    button.addEventListener("click", () => send({ text: button.dataset.text, label: button.dataset.text }));
  }

  for (const entry of transcript) {
    if (entry.from === "user") {
      deactivateInteractive();
      renderUser(entry.text);
    } else if (entry.from === "bot") {
      renderReply(entry.reply);
    } else {
      renderError(entry.text);
    }
  }
  // Jump, not glide, to the end of a restored conversation.
  chat.style.scrollBehavior = "auto";
  scrollToEnd();
  chat.style.scrollBehavior = "";

  if (demo) {
    pollOutbox();
    window.setInterval(pollOutbox, OUTBOX_POLL_MS);
  }
})();
