// A real OpenID Connect provider for the SSO tests (npm: oidc-provider).
//
//   node tests/idp/oidc_idp.mjs CONFIG.json
//
// CONFIG: {"port": 0, "issuer": "http://127.0.0.1:PORT", "clients": [{client_id,
// client_secret, redirect_uris}], "users": {"alice@acme.test": {"email_verified": true,
// "groups": ["security"], "name": "Alice"}}}. The development login page of oidc-provider
// accepts any password; the login is the email. Consent is pre-granted. Prints
// "listening <port>" when ready.
import fs from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    token_endpoint_auth_method: "client_secret_post",
    grant_types: ["authorization_code"],
    response_types: ["code"],
  })),
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "groups"],
  },
  cookies: { keys: ["sso-tests-only-cookie-key"] },
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const user = config.users[String(id).toLowerCase()];
    if (!user) return undefined;
    return {
      accountId: String(id).toLowerCase(),
      async claims() {
        return {
          sub: String(id).toLowerCase(),
          email: String(id).toLowerCase(),
          email_verified: user.email_verified !== false,
          name: user.name || id,
          groups: user.groups || [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // Pre-granted consent: tests see the login page only.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile");
    grant.addOIDCClaims(["email", "email_verified", "name", "groups"]);
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
