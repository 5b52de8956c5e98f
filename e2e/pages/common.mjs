// Helpers shared by the page objects.

/** Trimmed visible text of a locator (waits for it to be attached). */
export async function textOf(locator) {
  return ((await locator.innerText()) ?? '').replace(/\s+/g, ' ').trim();
}

/** The path + query of a URL string, e.g. "/idp?client_id=...". */
export function pathAndQuery(url) {
  const u = new URL(url);
  return u.pathname + u.search;
}

/**
 * Waits until the page's URL satisfies `predicate(URL)`; works for full
 * navigations and for the router's history.pushState alike.
 * @param {import('playwright-core').Page} page
 * @param {(u: URL) => boolean} predicate
 * @param {string} what  for the error message
 */
export async function waitForUrl(page, predicate, what, timeout) {
  try {
    await page.waitForURL(predicate, { waitUntil: 'commit', ...(timeout ? { timeout } : {}) });
  } catch (e) {
    throw new Error(`waiting for the URL to be ${what}; it is ${page.url()}: ${e.message.split('\n')[0]}`);
  }
}

/** Same origin as `base` and path `pathname`. */
export function isAt(base, pathname) {
  const origin = new URL(base).origin;
  return (u) => u.origin === origin && u.pathname === pathname;
}
