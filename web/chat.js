// chat.js - the chat page: one WebSocket to the front end that served it.
//
// Everything that came from the chat is put on the page as text
// (textContent), never as markup.  The session's token lives in
// sessionStorage: a reload of this tab resumes the session, a new tab is
// a new one.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const USER_MAX = 20;
  const BACKOFF_MAX = 8000;

  let ws = null;
  let token = store.getItem('rpcchat.token');
  let name = store.getItem('rpcchat.user') || '';
  let lastSeq = 0;
  let wantLogin = null;      // the name to send once connected
  let chatting = false;      // the chat is shown
  let lost = false;          // the connection was lost: said so
  let relogin = false;       // logging in again after the session expired
  let backoff = 1000;
  let retry = null;
  let closedForGood = false;
  const users = new Map();   // name -> its list item

  // -- the name rules of the server (PROTOCOL.md §3.2), checked first ------
  const nameChar = /^[\p{L}\p{Nd}]$/u;
  function bytes(s) { return new TextEncoder().encode(s).length; }
  function why(s) {
    if (s.length === 0) {
      return 'the name is empty; it must be 1 to ' + USER_MAX +
        ' bytes of letters and digits';
    }
    if (bytes(s) > USER_MAX) {
      return 'names are counted in bytes (UTF-8) and may have at most ' +
        USER_MAX + '; this one has ' + bytes(s) + ' bytes';
    }
    for (const ch of s) {
      if (!nameChar.test(ch)) {
        const cp = ch.codePointAt(0).toString(16).toUpperCase()
          .padStart(4, '0');
        return "'" + ch + "' (U+" + cp + ') is neither a letter nor a ' +
          'digit; names are letters and digits only';
      }
    }
    return '';
  }
  // A name that passes as typed is sent as typed; else its NFC form.
  function prepare(typed) {
    if (why(typed) === '') return { name: typed };
    const nfc = typed.normalize('NFC');
    if (why(nfc) === '') return { name: nfc };
    return { error: "cannot log in as '" + typed + "': " + why(typed) };
  }

  // -- the page -----------------------------------------------------------
  function status(text) { $('status').textContent = text; }

  function showLogin(reason) {
    chatting = false;
    $('chat').hidden = true;
    $('login').hidden = false;
    $('login-why').textContent = reason || '';
    if (name && !$('user').value) $('user').value = name;
    $('user').focus();
  }

  function showChat() {
    const first = !chatting;
    chatting = true;
    $('login').hidden = true;
    $('chat').hidden = false;
    if (first) $('line').focus();
  }

  function clearLog() {
    $('log').replaceChildren();
    users.clear();
    $('users').replaceChildren();
    lastSeq = 0;
  }

  function two(n) { return (n < 10 ? '0' : '') + n; }

  function addLine(kind, text, at) {
    const log = $('log');
    const near = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const li = document.createElement('li');
    li.className = kind;
    const d = new Date(at || Date.now());
    const time = document.createElement('time');
    time.dateTime = d.toISOString();
    time.textContent = two(d.getHours()) + ':' + two(d.getMinutes());
    li.append(time);
    if (kind === 'private') {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'private';
      li.append(tag);
    }
    const span = document.createElement('span');
    span.className = 'text';
    span.dir = 'auto';
    span.textContent = text;
    li.append(span);
    log.append(li);
    if (near) log.scrollTop = log.scrollHeight;
  }

  function note(text) { addLine('info', text); }

  function addUser(u) {
    if (users.has(u)) return;
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dir = 'auto';
    b.textContent = u;
    b.title = 'Send ' + u + ' a private message';
    b.addEventListener('click', () => {
      const line = $('line');
      line.value = '/tell ' + u + ' ';
      line.focus();
      line.setSelectionRange(line.value.length, line.value.length);
    });
    li.append(b);
    users.set(u, li);
    // Kept in byte order, as List gives it.
    const after = [...users.keys()].filter((k) => k > u).sort()[0];
    $('users').insertBefore(li, after ? users.get(after) : null);
  }

  function setUsers(list) {
    users.clear();
    $('users').replaceChildren();
    for (const u of list) addUser(u);
  }

  function dropUser(u) {
    const li = users.get(u);
    if (li) li.remove();
    users.delete(u);
  }

  // -- the connection -----------------------------------------------------
  function send(text) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(text);
      return true;
    }
    return false;
  }

  function connect() {
    retry = null;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(scheme + '//' + location.host + '/ws');
    ws.addEventListener('open', () => {
      backoff = 1000;
      if (token) {
        send('resume ' + token + ' ' + lastSeq);
      } else if (wantLogin !== null) {
        send('login ' + wantLogin);
      } else {
        status('');
      }
    });
    ws.addEventListener('message', (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(m);
    });
    ws.addEventListener('close', () => {
      ws = null;
      if (closedForGood) return;
      if (chatting && !lost) {
        addLine('notice', '*** lost the connection to the chat; reconnecting');
        lost = true;
      }
      status('reconnecting…');
      retry = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
    });
  }

  function onMessage(m) {
    switch (m.t) {
      case 'session':
        token = m.token;
        store.setItem('rpcchat.token', token);
        store.setItem('rpcchat.user', name);
        wantLogin = null;
        showChat();
        if (lost) {
          addLine('notice', relogin
            ? '*** connected again; logged in again as ' + m.user
            : '*** connected again');
        }
        lost = false;
        relogin = false;
        status(m.user + ' at ' + m.server);
        break;
      case 'line':
        if (m.seq > 0) {
          if (m.seq <= lastSeq) break;
          lastSeq = m.seq;
        }
        addLine(m.k, m.text, m.at);
        if (typeof m.join === 'string') addUser(m.join);
        if (typeof m.leave === 'string') dropUser(m.leave);
        break;
      case 'users':
        setUsers(m.users);
        break;
      case 'refused':
        wantLogin = null;
        relogin = false;
        if (chatting) addLine('error', m.why);
        showLogin(m.why);
        break;
      case 'expired':
        token = null;
        store.removeItem('rpcchat.token');
        if (name) {
          // The front end restarted or the session ended: log in again.
          relogin = true;
          lost = lost || chatting;
          wantLogin = name;
          lastSeq = 0;
          send('login ' + name);
        } else {
          showLogin('');
        }
        break;
      case 'bye':
        token = null;
        store.removeItem('rpcchat.token');
        showLogin('You have logged out.');
        status('');
        break;
      case 'taken':
        closedForGood = true;
        token = null;
        addLine('notice', '*** this chat went on in another tab');
        status('');
        break;
    }
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = prepare($('user').value.trim());
    if (p.error) {
      $('login-why').textContent = p.error;
      return;
    }
    $('login-why').textContent = '';
    clearLog();
    name = p.name;
    wantLogin = name;
    status('logging in…');
    if (!send('login ' + name) && !ws && !retry) connect();
  });

  $('say').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const line = $('line');
    if (line.value.trim() === '') return;
    if (!send('line ' + line.value)) {
      addLine('error', 'not connected: not sent (it is still in the box)');
      return;
    }
    line.value = '';
  });

  if (token) status('resuming…');
  else showLogin('');
  connect();
})();
