from django.urls import path

from orgs.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("read/", views.notification_read, name="notification_read"),
    path("preferences/", views.preferences, name="preferences"),
]
