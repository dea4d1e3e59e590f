// The outbox: check-ins and check-outs made on the phone, sent in order and kept until
// the server has answered them. Each action carries an id made here (crypto.randomUUID),
// so sending one twice is harmless: the server records it once and answers the same.
//
// Replays happen when the app starts, when the browser says it is back online, after each
// new action and on a timer — not through Background Sync, which Safari and Firefox lack.

import { outbox, saveOutbox } from "./mobile_store.js";

const RETRY_MS = 30_000;

export function newAction(fields) {
  const id = crypto.randomUUID
    ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
      );
  return { id, occurred_at: new Date().toISOString(), ...fields };
}

export class Outbox {
  constructor({ userId, url, onAnswer, onRefused, onChange }) {
    this.userId = userId;
    this.url = url;
    this.onAnswer = onAnswer;
    this.onRefused = onRefused;
    this.onChange = onChange;
    this.flushing = null;
    window.addEventListener("online", () => this.flush());
    setInterval(() => this.flush(), RETRY_MS);
  }

  get pending() {
    return outbox(this.userId);
  }

  add(action) {
    saveOutbox(this.userId, [...this.pending, action]);
    this.onChange(this.pending.length);
    return this.flush();
  }

  // One flush at a time; actions leave the box only on an answer from the server.
  flush() {
    if (!this.flushing) {
      this.flushing = this.#send().finally(() => {
        this.flushing = null;
        this.onChange(this.pending.length);
      });
    }
    return this.flushing;
  }

  async #send() {
    for (const action of this.pending) {
      let response;
      try {
        response = await fetch(this.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          credentials: "same-origin",
          body: JSON.stringify(action),
        });
      } catch {
        return false; // offline: keep everything, try again later
      }
      if (response.status === 401) return false; // logged out: keep until logged in again
      if (response.status >= 500) return false;
      const answer = await response.json().catch(() => ({}));
      this.#remove(action.id);
      if (response.ok) this.onAnswer(action, answer);
      else this.onRefused(action, answer);
    }
    return true;
  }

  #remove(id) {
    saveOutbox(
      this.userId,
      this.pending.filter((a) => a.id !== id),
    );
  }
}
