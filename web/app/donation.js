// Donations: one Idempotency-Key per attempt, the pledge's status until it is final, and the guest
// receipts kept on this device.
import {ApiError, request, session} from "./api.js";
import {connectLive} from "./live.js";

const RECEIPTS_KEY = "careforall.receipts";
const TERMINAL = new Set(["COMPLETED", "FAILED"]);
const AUTO_RETRIES = 3;

export const isTerminal = (status) => TERMINAL.has(status);

/** A random UUIDv4; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newIdempotencyKey() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One donation attempt. The key is made when the attempt starts and kept, with the exact body and the
 * caller it was sent as, until the API gives a definitive answer: every retry (a network error, a 5xx,
 * 409 "still in progress", 429) sends the same key and body, so the API answers with the one pledge.
 */
export class DonationAttempt {
  constructor(campaignId, body) {
    this.campaignId = campaignId;
    this.body = body;
    this.key = newIdempotencyKey();
    this.token = session.token;  // the key is scoped to the caller: keep sending as the same one
    this.settled = false;
  }

  /** Resolves to {pledge, replayed}; rejects with an ApiError (`retryable` when this attempt may be sent again). */
  async send() {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const headers = {"Idempotency-Key": this.key};
        if (this.token) headers.Authorization = `Bearer ${this.token}`;
        const response = await request("POST", `/campaigns/${encodeURIComponent(this.campaignId)}/pledges`,
                                        {body: this.body, headers, auth: false});
        this.settled = true;
        return {pledge: response.data, replayed: response.headers.get("Idempotent-Replayed") === "true"};
      } catch (error) {
        if (!(error instanceof ApiError) || !error.retryable) {
          this.settled = true;  // a definitive no (400, 401, 403, 404, 409 not active, 413, 422)
          throw error;
        }
        if (error.status === 429 || attempt >= AUTO_RETRIES) throw error;  // the person decides when
        await wait(Math.max(500 * 2 ** attempt, (error.retryAfter || 0) * 1000));
      }
    }
  }
}

/**
 * Follows a pledge until COMPLETED or FAILED. A WebSocket of its own (`?pledge_id=&receipt_token=`) pushes its
 * state: the current one on connect, then each change. While that socket is open nothing is polled; while it is
 * not (connecting, refused, closed) GET /pledges/<id>?receipt_token= is polled with backoff (1 s, x1.5, at most
 * 8 s). `push(pledgeLike)` feeds it other pushes (the campaign socket's, for a signed-in donor). Calls
 * onUpdate(pledgeLike) on each change; older or repeated states are ignored, whichever way they came.
 */
export function followPledge(pledge, receiptToken, onUpdate) {
  let status = pledge.status;
  let paymentRank = rank(pledge.payment?.state);
  let stopped = false;
  let timer = null;
  let delay = 1000;
  let live = null;

  function update(next) {
    if (stopped || !next?.status) return;
    const nextRank = rank(next.payment?.state);
    const statusMoved = next.status !== status && (isTerminal(next.status) || !isTerminal(status));
    if (!statusMoved && nextRank <= paymentRank) return;  // nothing new, or an older message
    status = next.status;
    paymentRank = Math.max(paymentRank, nextRank);
    onUpdate(next);
    if (isTerminal(status)) stop();
  }

  function schedule() {
    if (!stopped && !timer && !live?.open) timer = setTimeout(poll, delay);
  }

  async function poll() {
    timer = null;
    if (stopped || live?.open) return;
    try {
      const {data} = await request("GET", `/pledges/${encodeURIComponent(pledge.id)}`,
                                   {query: {receipt_token: receiptToken}, auth: false});
      update(data);
    } catch {
      // the next poll tries again
    }
    delay = Math.min(8000, delay * 1.5);
    schedule();
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    timer = null;
    live?.close();
  }

  if (!isTerminal(status)) {
    if (receiptToken) {
      live = connectLive({
        pledgeId: pledge.id,
        receiptToken,
        onMessage(message) {
          if (message.type === "pledge.updated" && message.pledge_id === pledge.id) update(message);
        },
        onStatus(state) {
          if (state === "live") {
            clearTimeout(timer);  // pushed from now on: the state on connect, then each change
            timer = null;
          } else {
            schedule();  // refused or closed: poll until it is open again
          }
        },
      });
    }
    schedule();
  }
  return {push: update, stop};
}

const PAYMENT_RANK = {PENDING: 0, AUTHORIZED: 1, CAPTURED: 2, COMPLETED: 3, FAILED: 3};

function rank(state) {
  return state in PAYMENT_RANK ? PAYMENT_RANK[state] : -1;
}

// ------------------------------------------------------------------ donations made on this device

export const receipts = {
  list() {
    try {
      const stored = JSON.parse(localStorage.getItem(RECEIPTS_KEY) || "[]");
      return Array.isArray(stored) ? stored.filter((r) => r && r.pledge_id && r.receipt_token) : [];
    } catch {
      return [];
    }
  },
  add(pledge, campaignTitle) {
    const entry = {pledge_id: pledge.id, receipt_token: pledge.receipt_token, campaign_id: pledge.campaign_id,
                   campaign_title: campaignTitle, amount: pledge.amount, currency: pledge.currency,
                   created_at: pledge.created_at};
    const kept = this.list().filter((r) => r.pledge_id !== pledge.id);
    localStorage.setItem(RECEIPTS_KEY, JSON.stringify([entry, ...kept].slice(0, 50)));
  },
};
