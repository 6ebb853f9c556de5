"""The API keys page of the site: make, name, see the last use of, and
revoke keys; with a quick start whose examples a test runs as shown."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from gallery.api import quota
from gallery.api.models import ApiToken

KEY_PLACEHOLDER = "YOUR_API_KEY"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Key name", help_text="Where you will use it, e.g. “laptop script” or “family app”."
    )


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        # Rendered here rather than after a redirect: the key is shown this
        # once and is stored nowhere in clear, not even in the session.
        _, new_key = ApiToken.create(request.user, form.cleaned_data["name"])
        form = ApiKeyForm()
    ctx = {
        "form": form,
        "tokens": request.user.api_tokens.all(),
        "new_key": new_key,
        "key": new_key or KEY_PLACEHOLDER,
        "api_root": request.build_absolute_uri(reverse("api-photo-list")).removesuffix("photos/"),
        "docs_url": request.build_absolute_uri(reverse("api-docs")),
        "quota": quota.status(request.user),
    }
    return render(request, "api/keys.html", ctx, status=400 if form.errors else 200)


@login_required
@require_POST
def api_key_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Revoked the key “{token.name}”. Programs using it can no longer connect.")
    return redirect("api-keys")
