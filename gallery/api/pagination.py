"""Page-numbered lists: {"count", "next", "previous", "results"}.

Its own module because DRF imports DEFAULT_PAGINATION_CLASS while
rest_framework.generics is still loading; from views.py that is a circular
import."""

from rest_framework.pagination import PageNumberPagination

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Pagination(PageNumberPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
