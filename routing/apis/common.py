from __future__ import annotations

from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class StaffModelPermission(BasePermission):
    """Reads need staff; a write needs staff and the Django model permission the view names for its
    method in `write_permissions` (a method it does not name is refused), as in the web UI and the admin."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method in SAFE_METHODS:
            return True
        perm = getattr(view, "write_permissions", {}).get(request.method)
        if perm and user.has_perm(perm):
            return True
        self.message = f"{request.method} here needs the {perm or 'a write'} permission."
        return False


def paginate(view, request, queryset, serializer_class):
    paginator = api_settings.DEFAULT_PAGINATION_CLASS()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def delete_or_conflict(instance, delete) -> Response:
    """204 once `delete()` (a service) removed `instance`; 409 while other rows still point at it."""
    try:
        delete()
    except ProtectedError as exc:
        raise Conflict(
            f"{instance} is still in use by {len(exc.protected_objects)} row(s); disable it instead."
        ) from exc
    return Response(status=status.HTTP_204_NO_CONTENT)
