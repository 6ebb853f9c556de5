"""The API keys page of the site: make, name, see the last use of, and
revoke keys; with a quick start whose examples a test runs as shown."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from gallery import quota
from gallery.api.models import ApiToken

KEY_PLACEHOLDER = "YOUR_API_KEY"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Key name", help_text="Where you will use it, e.g. “laptop script” or “family app”."
    )


# The session key under which a new key waits for the page after the redirect.
NEW_KEY_SESSION = "api_new_key"


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Post/redirect/get, so that reloading the page makes no second key.
        # The key waits in the session for that one redirect and is popped
        # when shown: it is in clear nowhere else, and never again.
        _, key = ApiToken.create(request.user, form.cleaned_data["name"])
        request.session[NEW_KEY_SESSION] = key
        return redirect("api-keys")
    new_key = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
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
