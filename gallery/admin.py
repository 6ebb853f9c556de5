from django.contrib import admin

from gallery.quota import Plan, QuotaUsage


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "daily_quota"]
    search_fields = ["user__username"]


@admin.register(QuotaUsage)
class QuotaUsageAdmin(admin.ModelAdmin):
    list_display = ["user", "day", "count"]
    list_filter = ["day"]
