"""Forms of the catalog pages; the API validates its query parameters with the same
forms, so the page and the API accept exactly the same filters."""

from django import forms

from evidence import catalog, selectors
from evidence.families import Family
from evidence.importers import Format
from evidence.importers.common import Availability
from orgs.forms import StyledForm

SORT_CHOICES = [("model", "Model id"), ("-model", "Model id, Z to A"),
                ("platform", "Platform"), ("input_price", "Input price, lowest first"),
                ("-input_price", "Input price, highest first"),
                ("context", "Context window, smallest first"),
                ("-context", "Context window, largest first"),
                ("deprecation", "Deprecation date, soonest first")]


class CatalogFilterForm(StyledForm):
    """Search and filters of one snapshot's entries (GET). Every field is optional."""

    snapshot = forms.ModelChoiceField(queryset=None, required=False, to_field_name="public_id",
                                      empty_label="Newest snapshot")
    q = forms.CharField(label="Search", required=False, max_length=100,
                        help_text="Part of a model id or key, or a platform name.")
    platform = forms.CharField(required=False, max_length=64, widget=forms.Select)
    family = forms.ChoiceField(label="Endpoint family", required=False,
                               choices=[("", "Any family"), *Family.choices])
    availability = forms.ChoiceField(required=False,
                                     choices=[("", "Any availability"), *Availability.CHOICES])
    price_min = forms.DecimalField(label="Input price from", required=False, min_value=0,
                                   help_text="USD per 1M input tokens.")
    price_max = forms.DecimalField(label="Input price to", required=False, min_value=0)
    context_min = forms.IntegerField(label="Context from", required=False, min_value=0,
                                     help_text="Tokens.")
    context_max = forms.IntegerField(label="Context to", required=False, min_value=0)
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["snapshot"].queryset = selectors.snapshot_list(org=org)
        self.org = org

    def set_platforms(self, snapshot):
        platforms = selectors.platform_list(org=self.org, snapshot=snapshot)
        self.fields["platform"].widget.choices = [("", "Any platform"),
                                                  *[(p, p) for p in platforms]]

    def clean(self):
        data = super().clean()
        for low, high in (("price_min", "price_max"), ("context_min", "context_max")):
            if data.get(low) is not None and data.get(high) is not None \
                    and data[low] > data[high]:
                self.add_error(high, "Must not be below the lower bound.")
        return data

    def filters(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "snapshot"}
        data["sort"] = data.get("sort") or "model"
        return data


class ImportForm(StyledForm):
    """Upload a catalog file or give its URL (one of the two)."""

    format = forms.ChoiceField(choices=Format.CHOICES,
                               help_text='The file\'s format; see "Catalog formats" below.')
    file = forms.FileField(required=False)  # its hint names catalog.MAX_BYTES (__init__)
    url = forms.URLField(label="Or a URL", required=False, assume_scheme="https",
                         help_text="The server fetches it (http or https).")
    source_name = forms.CharField(
        label="Source name", required=False, max_length=100,
        help_text="Diffs compare snapshots of the same source. Defaults to the format's "
        "catalog (e.g. 'LiteLLM model cost map').")
    snapshot_date = forms.DateField(
        label="Catalog date", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The date the catalog describes; availability is judged against it. "
        "Defaults to a date in the file name, else today.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at render time from the limit import_catalog enforces, so they never differ.
        self.fields["file"].help_text = (
            f"A JSON or CSV file, up to {catalog.MAX_BYTES // 2**20} MB.")

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool(data.get("url")):
            raise forms.ValidationError("Upload a file or give a URL (one of the two).")
        return data


class DiffForm(StyledForm):
    """Two snapshots of the org to compare."""

    old = forms.ModelChoiceField(queryset=None, to_field_name="public_id", label="Older")
    new = forms.ModelChoiceField(queryset=None, to_field_name="public_id", label="Newer")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("old", "new"):
            self.fields[name].queryset = selectors.snapshot_list(org=org)


class RefreshForm(StyledForm):
    """The scheduled catalog refresh: where to fetch from, in which format, as which
    source. The service (evidence/refresh.py) checks the URL against the fetch rules."""

    url = forms.URLField(
        label="Catalog URL", required=False, max_length=500, assume_scheme="https",
        help_text="Fetched and imported every day at 04:00 UTC, e.g. LiteLLM's "
        "model_prices_and_context_window.json. Leave empty to turn the refresh off.")
    format = forms.ChoiceField(choices=Format.CHOICES)
    source_name = forms.CharField(
        label="Source name", required=False, max_length=100,
        help_text="Each refresh is diffed against the previous snapshot of this source; "
        "use the name your earlier imports of this catalog have. Defaults to the format's "
        "catalog (e.g. 'LiteLLM model cost map').")
