from django.contrib import admin

from gallery.api.models import ApiToken, Plan, QuotaUsage


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_start", "created", "last_used_at", "from_login"]
    search_fields = ["name", "user__username", "key_start"]
    readonly_fields = ["key_start", "created", "last_used_at", "from_login"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "daily_quota"]
    search_fields = ["user__username"]


@admin.register(QuotaUsage)
class QuotaUsageAdmin(admin.ModelAdmin):
    list_display = ["user", "day", "count"]
    list_filter = ["day"]
