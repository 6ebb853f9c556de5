"""JSON bodies that Python's json module cannot take apart are the client's error.

json.loads recurses once per nesting level: a body of 50,000 "[" (50 KB, sent
anonymously) raised RecursionError, a 500. No request of ours nests more than
a few levels, so that is a 400 like any other unreadable JSON.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
