// A real SAML 2.0 identity provider for the SSO tests (npm: samlp + express).
//
//   node tests/idp/saml_idp.js CONFIG.json
//
// CONFIG: {"port": 0, "issuer": "urn:test:saml-idp", "cert": PEM, "key": PEM,
// "wrong_key": PEM, "users": {"carol@acme.test": {"email_verified": true, "groups":
// ["security"], "password": "..."}}}
//
// GET /metadata: IdP metadata. GET /sso: the AuthnRequest (HTTP-Redirect) lands on a login
// form. POST /sso/login: checks the password and posts a signed Response to the SP's ACS
// URL, with Destination and Recipient set to it (python3-saml's strict mode checks both).
// The form's "mode" select exists for the bad-input tests: "bad-signature" signs with a
// key that is not in the metadata; "wrong-audience" addresses the assertion to another SP.
// Prints "listening <port>" when ready.
const fs = require("fs");
const express = require("express");
const samlp = require("samlp");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const app = express();
app.use(express.urlencoded({ extended: false }));

function profileMapper(user) {
  return {
    getClaims() {
      return {
        uid: user.email,
        email: user.email,
        email_verified: user.email_verified === false ? "false" : "true",
        first_name: user.first_name || user.email.split("@")[0],
        groups: user.groups || [],
      };
    },
    getNameIdentifier() {
      return {
        nameIdentifier: user.email,
        nameIdentifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
      };
    },
  };
}
profileMapper.prototype.metadata = ["uid", "email", "email_verified", "first_name", "groups"]
  .map((id) => ({ id, optional: true, displayName: id, description: id }));

app.get("/metadata", samlp.metadata({
  issuer: config.issuer,
  cert: config.cert,
  profileMapper,
  redirectEndpointPath: "/sso",
  postEndpointPath: "/sso",
}));

const escape = (s) => String(s || "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get("/sso", (req, res) => {
  res.type("html").send(`<!doctype html><html><head><title>Test SAML IdP</title></head><body>
<h1>Test SAML IdP</h1>
<form method="post" action="/sso/login">
<input type="hidden" name="SAMLRequest" value="${escape(req.query.SAMLRequest)}">
<input type="hidden" name="RelayState" value="${escape(req.query.RelayState)}">
<label>Email <input name="email" type="email"></label>
<label>Password <input name="password" type="password"></label>
<label>Mode <select name="mode"><option value="normal">normal</option>
<option value="bad-signature">bad-signature</option>
<option value="wrong-audience">wrong-audience</option></select></label>
<button type="submit">Sign in to IdP</button>
</form></body></html>`);
});

app.post("/sso/login", (req, res, next) => {
  const user = config.users[String(req.body.email || "").toLowerCase()];
  if (!user || user.password !== req.body.password) {
    return res.status(401).type("text").send("Wrong email or password");
  }
  const mode = req.body.mode || "normal";
  req.query = {};
  samlp.parseRequest(req, (err, data) => {
    if (err || !data || !data.assertionConsumerServiceURL) {
      return res.status(400).type("text").send("No valid SAMLRequest");
    }
    const acsUrl = data.assertionConsumerServiceURL;
    samlp.auth({
      issuer: config.issuer,
      cert: config.cert,
      key: mode === "bad-signature" ? config.wrong_key : config.key,
      signAssertion: true,
      profileMapper,
      getUserFromRequest: () => ({ ...user, email: String(req.body.email).toLowerCase() }),
      audience: mode === "wrong-audience" ? "https://another-sp.example.com/metadata/"
        : undefined,
      destination: acsUrl,
      recipient: acsUrl,
      RelayState: req.body.RelayState,
      getPostURL: (audience, dom, request, callback) => callback(null, acsUrl),
    })(req, res, next);
  });
});

const server = app.listen(config.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
