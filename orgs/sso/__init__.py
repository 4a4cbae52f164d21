"""Single sign-on for orgs (issue #3): connections and verified domains (models), their
services and selectors, the IdP checks made while configuring (idp), the allauth glue
(login), forms and the API. docs/sso.md is the guide."""
