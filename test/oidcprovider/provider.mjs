// A real OpenID provider (oidc-provider) for kfgate's Go tests; see oidcprovider.go.
//
// Configuration is one JSON document, from argv[2] or $OIDC_PROVIDER_CONFIG:
//
//   {
//     "port": 0,                      // 0 picks a free port; Restart passes the old one
//     "jwk": {...},                   // private RSA JWK (RS256); generated when absent
//     "cookieKeys": ["..."],          // generated when absent
//     "users": [{"id", "email", "emailVerified", "name", "password", "groups": []}],
//     "clients": [{"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris"}],
//     "ttl": {"IdToken": 3600, ...}   // seconds, oidc-provider's ttl names
//   }
//
// It listens on 127.0.0.1 only and prints "READY <issuer>" on stdout once listening.
// It exits when stdin closes, so a crashed Go test binary does not leave it behind.
// Set OIDC_DEBUG to log every request to stderr.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG ?? '{}');
const debug = Boolean(process.env.OIDC_DEBUG);

const users = config.users ?? [];
// The login form accepts either the account id or the email as the username.
const userByName = (name) => users.find((u) => u.id === name || u.email === name);

const jwk = config.jwk ?? {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
};

const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><title>${html(title)}</title></head><body>${body}</body></html>`);
}

// The Go helper relies on this exact shape: form id "login", fields "username" and "password".
function loginPage(res, status, uid, message) {
  page(res, status, 'Sign in', `${message ? `<p id="error">${html(message)}</p>` : ''}
<form id="login" method="post" action="/interaction/${html(uid)}/login">
<input type="text" name="username" autofocus/>
<input type="password" name="password"/>
<button type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function server() {
  const srv = createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(config.port ?? 0, '127.0.0.1', resolve);
  });
  // The issuer must carry the real port, so the provider is built after listen.
  const issuer = `http://127.0.0.1:${srv.address().port}`;
  return { srv, issuer };
}

const { srv, issuer } = await server();

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    // No secret means a public client (PKCE is required for every client anyway).
    ...(c.client_secret
      ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: c.redirect_uris ?? [],
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
  })),
  jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig' }] },
  cookies: { keys: config.cookieKeys ?? [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // By default oidc-provider puts scope-derived claims only in userinfo when an access token
  // is issued too; kfgate reads email and groups from the ID token, so put them there.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const u = users.find((x) => x.id === sub);
    if (!u) return undefined;
    return {
      accountId: u.id,
      async claims() {
        return {
          sub: u.id,
          email: u.email,
          email_verified: u.emailVerified ?? true,
          name: u.name,
          groups: u.groups ?? [],
        };
      },
    };
  },
  pkce: { required: () => true },
  // The default only issues refresh tokens for offline_access, which oidc-provider drops
  // unless prompt=consent is sent; an RP like kfgate should not need that dance.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 3600, IdToken: 3600, RefreshToken: 86400,
    Session: 86400, Grant: 86400, Interaction: 600,
    ...config.ttl,
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // `form` is oidc-provider's (hidden xsrf input); the button is what a user clicks.
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></body></html>`;
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>Error</title></head><body>${Object.entries(out)
      .map(([k, v]) => `<pre id="${html(k)}">${html(v)}</pre>`).join('')}</body></html>`;
  },
});

// Internal errors would otherwise only show as a terse 500 page.
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

// GET shows the login form, or grants consent straight away; POST .../login checks the password.
async function interaction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return page(res, 400, 'Error', `<pre id="error">${html(err.message)}</pre>`);
  }
  if (details.uid !== uid) return page(res, 400, 'Error', '<pre id="error">interaction mismatch</pre>');

  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (req.method !== 'POST' || action !== 'login') return loginPage(res, 200, uid);
    const form = await readForm(req);
    const user = userByName(form.get('username') ?? '');
    if (!user || user.password !== form.get('password')) {
      return loginPage(res, 401, uid, 'invalid username or password');
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'consent') {
    // Auto-consent: grant exactly what the prompt says is missing.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  return page(res, 400, 'Error', `<pre id="error">unsupported prompt ${html(prompt.name)}</pre>`);
}

const providerCallback = provider.callback();
const interactionPath = /^\/interaction\/([^/?]+)(?:\/(login))?(?:\?.*)?$/;

srv.on('request', (req, res) => {
  if (debug) {
    res.on('finish', () => console.error(`oidc-provider: ${req.method} ${req.url} -> ${res.statusCode}`));
  }
  const m = interactionPath.exec(req.url);
  if (!m) return providerCallback(req, res);
  interaction(req, res, m[1], m[2]).catch((err) => {
    console.error('interaction error:', err);
    if (!res.headersSent) page(res, 500, 'Error', `<pre id="error">${html(err.message)}</pre>`);
  });
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

console.log(`READY ${issuer}`);
