"""Two response policies that hold for every page and endpoint of the site."""

from django.http import JsonResponse

# The site's own scripts and styles only (every <script> has a src under /static/; a test
# checks the templates). Style attributes stay allowed (style-src-attr): templates set CSS
# variables such as a photo's aspect ratio on its element, which no script can abuse.
# Images: our own files, and data:/blob: URLs that the scripts and Swagger UI make.
def _policy(style_src="'self'"):
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        f"style-src {style_src}",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


CONTENT_SECURITY_POLICY = _policy()
# Swagger UI (the API docs page) adds a <style> element of its own at start-up; its scripts
# are still our files only.
API_DOCS_POLICY = _policy(style_src="'self' 'unsafe-inline'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = API_DOCS_POLICY if request.path.startswith("/api/docs/") else CONTENT_SECURITY_POLICY
        response.setdefault("Content-Security-Policy", policy)
        return response


def wants_json(request):
    """An API call, or a request that prefers JSON to HTML (the site's scripts ask so)."""
    if request.path.startswith("/api/"):
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


class JsonErrorsMiddleware:
    """An error page (400, 403, 404, 413, 500...) that Django made in HTML, before or around
    a view (a forged Host header, too many files, a CSRF failure, a crash), becomes
    {"detail": ...} with the same status and headers for a client that asked for JSON. The
    API's own errors are JSON already; this catches what happens before it runs. First in
    MIDDLEWARE, so that it sees every other middleware's answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code < 400 or response.streaming
                or not response.get("Content-Type", "").startswith("text/html") or not wants_json(request)):
            return response
        converted = JsonResponse({"detail": f"{response.reason_phrase}."}, status=response.status_code)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                converted[header] = value
        return converted
