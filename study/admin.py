from django.contrib import admin

from study.models import Answer, Pair


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    """Withdraw a pair by deleting it (its answers and files go with it)."""

    list_display = ["pk", "model_version", "source", "width", "height", "created"]
    list_filter = ["model_version"]
    search_fields = ["source"]
    readonly_fields = ["model_version", "source", "source_sha256", "width", "height", "real", "fake", "created"]


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["pair", "participant", "real_slot", "choice", "correct", "created"]
    list_filter = ["correct", "pair__model_version"]
    readonly_fields = ["pair", "participant", "real_slot", "choice", "correct", "created"]

    def has_add_permission(self, request):
        return False  # answers come from participants only
