"""The gateway settings form. Bounds and the SSRF rule are the service's
(evidence/gateway.py), so the browser and any other caller get the same field errors."""

from django import forms

from evidence.models import GatewayConfig
from orgs.forms import StyledForm


class GatewayConfigForm(StyledForm):
    base_url = forms.CharField(
        label="Base URL", max_length=500, widget=forms.URLInput(attrs={
            "placeholder": "https://gateway.example/v1", "autocomplete": "off"}),
        help_text="The OpenAI-compatible base URL: smoke tests POST to "
                  "<code>/chat/completions</code>, <code>/responses</code>, "
                  "<code>/embeddings</code> and <code>/images/generations</code> under it.")
    key = forms.CharField(
        label="Test key", required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="A gateway key for synthetic traffic only. Stored encrypted and never shown "
                  "again.")
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", initial=GatewayConfig.DEFAULT_TIMEOUT,
        help_text="How long each smoke request may take, 1 to 120 seconds.")

    def __init__(self, *args, config: GatewayConfig | None = None, **kwargs):
        if config is not None:
            kwargs.setdefault("initial", {"base_url": config.base_url,
                                          "timeout_seconds": config.timeout_seconds})
        super().__init__(*args, **kwargs)
        if config is not None:
            key = self.fields["key"]
            key.label = "Replace test key"
            key.help_text = ("A key is stored (set " + config.key_set_at.strftime("%-d %b %Y")
                             + "). Leave this empty to keep it; a new key replaces it.")
