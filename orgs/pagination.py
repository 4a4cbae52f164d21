# Kept apart from api_base: DRF imports the pagination class while building
# GenericAPIView, which api_base itself subclasses.
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
