from django.contrib import admin

from gallery.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_start", "created", "last_used_at", "from_login"]
    search_fields = ["name", "user__username", "key_start"]
    readonly_fields = ["key_start", "created", "last_used_at", "from_login"]
