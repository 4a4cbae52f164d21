from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self):
        from projects import services  # noqa: F401  (connects the member_removing receiver)
