// A person at the provider, without a browser: follows the authorization URL's redirects with the
// provider's cookies, fills its login form (oidc-provider's dev interactions take any password, and
// the fake GitHub's takes the login) and its consent form, and stops where the provider sends the
// browser back to the client: a redirect to the redirect URI, or Apple's form_post page.
type Hop = { status: number; location: string | null; html: string };

const hidden = (html: string) =>
  Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/g)].map((m) => [
      m[1]!,
      m[2]!.replace(/&amp;/g, "&").replace(/&quot;/g, '"'),
    ]),
  );
const formAction = (html: string) => /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, "&");

/** The response parameters the provider sent back to `redirectUri`, and how (query or form_post). */
export async function signInAt(
  authorizationUrl: string,
  login: string,
  redirectUri: string,
): Promise<{ params: Record<string, string>; via: "query" | "form_post" }> {
  const cookies = new Map<string, string>();
  const go = async (url: string, form?: Record<string, string>): Promise<Hop> => {
    const res = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form) : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair!.indexOf("=");
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return { status: res.status, location: res.headers.get("location"), html: await res.text() };
  };
  let url = authorizationUrl;
  let form: Record<string, string> | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const res = await go(url, form);
    form = undefined;
    if (res.location) {
      const next = new URL(res.location, url).href;
      if (next.startsWith(redirectUri)) return { params: Object.fromEntries(new URL(next).searchParams), via: "query" };
      url = next;
      continue;
    }
    const action = formAction(res.html);
    if (res.status !== 200 || !action)
      throw new Error(`the provider answered ${res.status}: ${res.html.slice(0, 500)}`);
    const target = new URL(action, url).href;
    if (target.startsWith(redirectUri)) return { params: hidden(res.html), via: "form_post" };
    const prompt = hidden(res.html).prompt;
    form = prompt === "login" || !prompt ? { ...hidden(res.html), login, password: "any" } : hidden(res.html);
    url = target;
  }
  throw new Error("too many hops at the provider");
}
