"""OpenAPI post-processing (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""

THROTTLED = {
    "description": "Too many requests without valid credentials (or, on token login, too many logins) "
    "from this address; see Retry-After.",
    "headers": {
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def add_throttled_responses(result, generator, request, public):
    """Any operation can answer 429 to a client without valid credentials
    (gallery/throttles.py); document it once here instead of on each view."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses")
            if responses is not None and "429" not in responses:
                responses["429"] = THROTTLED
    return result
