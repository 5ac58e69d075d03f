// Display helpers: money comes from the API as decimal strings ("25.00"), shown with its currency.

export function money(amount, currency = "USD") {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency}`;
  try {
    return new Intl.NumberFormat("en-US", {style: "currency", currency}).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

/** 0-100, one decimal: how far `current` is towards `goal`. */
export function percent(current, goal) {
  const c = Number(current), g = Number(goal);
  if (!(g > 0) || !Number.isFinite(c)) return 0;
  return Math.min(100, Math.round((c / g) * 1000) / 10);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", {dateStyle: "medium", timeStyle: "short"});
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}
