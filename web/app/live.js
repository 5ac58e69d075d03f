// Live updates over the WebSocket API: ws(s)://host/ws?campaign_id=<id>[&token=<jwt>], or one pledge's with
// ?pledge_id=<id>&receipt_token=<t> (its current state comes first, then every change).
// Reconnects with exponential backoff (1 s doubling to 30 s, with jitter) until closed.
import {wsUrl} from "./api.js";

export function connectLive({campaignId, token, pledgeId, receiptToken, onMessage, onStatus = () => {},
                             onReconnect = () => {}}) {
  let socket = null;
  let closed = false;
  let failures = 0;
  let everOpen = false;
  let timer = null;

  function open() {
    const query = {};
    if (campaignId) query.campaign_id = campaignId;
    if (token) query.token = token;
    if (pledgeId && receiptToken) Object.assign(query, {pledge_id: pledgeId, receipt_token: receiptToken});
    try {
      socket = new WebSocket(wsUrl(query));
    } catch {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", () => {
      failures = 0;
      onStatus("live");
      if (everOpen) onReconnect();  // pushes may have been missed meanwhile
      everOpen = true;
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message === "object") onMessage(message);
    });
    socket.addEventListener("close", () => {
      if (!closed) scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    onStatus("reconnecting");
    const delay = Math.min(30000, 1000 * 2 ** failures) * (0.5 + Math.random() / 2);
    failures += 1;
    timer = setTimeout(open, delay);
  }

  open();
  return {
    /** True while the socket is open: pushes arrive. */
    get open() {
      return Boolean(socket) && socket.readyState === WebSocket.OPEN;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    },
  };
}
